// Hồ Sơ intake desk: sign-in; find a returning citizen (CCCD, phone, dossier code, name) or
// register a new one; the person's page (dossiers, consent, face templates) with a new
// dossier, re-enrolment and withdrawal at the desk; consent printed before it is recorded;
// face capture with live quality feedback (3 good frames) and the duplicate-face choices;
// dossier and receipt. Strings come from /locales/*.json.
'use strict';
(() => {
  const ui = HosoStaff.create({ onUnauthorized: () => showSteps(['login-step']) });
  const { $, loadLang, t, show, clearMsg, api } = ui;
  const state = Object.assign(ui.state, {
    applicant: null, person: null, mode: 'new', taken: [], enrolled: 0,
    stream: null, busy: false, timer: null, printed: false, paused: false, dupOf: null,
  });
  const STEPS = ['login-step', 'search-step', 'person-step', 'applicant-step', 'consent-step', 'face-step', 'dossier-step', 'overdue-step'];

  function showSteps(ids) { for (const s of STEPS) $(s).hidden = !ids.includes(s); }
  const form = (el) => Object.fromEntries(new FormData(el).entries());
  const day = (unix) => new Date(unix * 1000).toLocaleDateString('vi-VN', { day: '2-digit', month: '2-digit', year: 'numeric' });
  const dayOf = (rfc) => day(Date.parse(rfc) / 1000);
  const el = (tag, cls, text) => { const e = document.createElement(tag); e.className = cls; e.textContent = text; return e; };

  function home() {
    state.applicant = null; state.person = null;
    $('search-results').replaceChildren(); $('search-empty').hidden = true;
    for (const id of ['applicant-form', 'consent-form', 'dossier-form', 'search-form']) $(id).reset();
    showSteps(['search-step', 'applicant-step', 'overdue-step']);
    window.HosoClerk.overdue.refresh();
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try {
      const r = await api('POST', '/api/v1/auth/login', form(e.target));
      state.csrf = r.csrf_token;
      $('logout').hidden = false;
      // Asked within the sign-in tap: the desk may then notify of kiosk calls.
      if (window.Notification && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
      alerts.unlock();
      followHelpCalls();
      home();
    } catch (err) { show(err.message); }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/v1/auth/logout'); } catch (_) { /* already out */ }
    state.csrf = null; $('logout').hidden = true; stopCamera(); showSteps(['login-step']);
    if (state.helpSource) { state.helpSource.close(); state.helpSource = null; }
    calls.clear(); renderCalls();
  });

  // Returning citizens.
  async function search(q) {
    const found = await api('GET', `/api/v1/applicants?q=${encodeURIComponent(q)}`);
    const list = $('search-results');
    list.replaceChildren();
    for (const p of found) {
      const li = document.createElement('li');
      li.dataset.applicant = p.id;
      const text = document.createElement('span');
      text.textContent = `${p.full_name} · ${t('person.id')} …${p.id_last4} · ${t('search.dossiers', { n: p.dossiers })} · ${p.consent ? t('search.consented') : t('search.no_consent')}`;
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = t('search.open');
      b.addEventListener('click', () => openPerson(p.id));
      li.append(text, b);
      list.append(li);
    }
    $('search-empty').hidden = found.length > 0;
    return found;
  }
  $('search-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try { await search($('search-q').value.trim()); } catch (err) { show(err.message); }
  });

  async function openPerson(id) {
    clearMsg();
    const p = await api('GET', `/api/v1/applicants/${id}`);
    state.applicant = p.id; state.person = p;
    $('person-name').textContent = p.full_name;
    $('person-id').textContent = `…${p.id_last4}`;
    $('person-consent').textContent = p.consent
      ? t('person.consent_yes', { at: day(p.consent.granted_at) })
      : (p.biometrics_purged_at ? t('person.consent_withdrawn', { at: day(p.biometrics_purged_at) }) : t('person.consent_no'));
    const last = p.template_info[p.template_info.length - 1];
    $('person-face').textContent = p.templates === 0 ? t('person.face_none')
      : t('person.face_held', { n: p.templates, at: day(last.created_at), by: last.enrolled_by || '—' })
        + (p.last_recognised_at ? ` · ${t('person.last_seen', { at: day(p.last_recognised_at) })}` : '')
        + (p.needs_reenrolment ? ` · ${t('person.needs_reenrol')}` : '');
    const rows = $('person-dossiers');
    rows.replaceChildren();
    for (const d of p.dossiers) {
      const tr = document.createElement('tr');
      for (const v of [d.code, d.procedure, state.lang === 'vi' ? d.status_text : d.status_text_en, dayOf(d.due_at)]) {
        const td = document.createElement('td'); td.textContent = v; tr.append(td);
      }
      const td = document.createElement('td');
      const a = document.createElement('a');
      a.href = `/api/v1/dossiers/${encodeURIComponent(d.code)}/receipt`; a.target = '_blank';
      a.textContent = t('person.receipt');
      td.append(a);
      // A code the kiosks' keypads locked (wrong ID digits): the clerk unlocks it for its owner.
      const lock = (p.keypad_locks || []).find((l) => l.code === d.code);
      if (lock) {
        const note = el('div', 'lock', t(lock.locked_for_s > 0 ? 'person.locked' : 'person.missed', {
          n: lock.misses, at: new Date(lock.last_at * 1000).toLocaleTimeString('vi-VN', { hour: '2-digit', minute: '2-digit' }),
          m: Math.ceil(lock.locked_for_s / 60),
        }));
        const b = el('button', 'unlock', t('person.unlock'));
        b.type = 'button';
        b.addEventListener('click', async () => {
          try {
            await api('POST', `/api/v1/dossiers/${encodeURIComponent(d.code)}/unlock`);
            await openPerson(p.id);
            show(t('person.unlocked', { code: d.code }), true);
          } catch (err) { show(err.message); }
        });
        note.append(' ', b);
        td.append(note);
      }
      tr.append(td);
      rows.append(tr);
    }
    $('person-reenrol').hidden = !p.consent;
    $('person-withdraw').hidden = !p.consent;
    $('person-consent-start').hidden = !!p.consent;
    $('withdraw-confirm').hidden = true;
    showSteps(['search-step', 'person-step']);
  }

  $('person-new-dossier').addEventListener('click', () => { clearMsg(); prepareDossier(); });
  $('person-reenrol').addEventListener('click', () => { clearMsg(); startFace('reenrol'); });
  // A returning citizen's consent: then their face, then back to their page (not a new dossier).
  $('person-consent-start').addEventListener('click', () => { clearMsg(); state.returning = true; startConsent(); });
  $('person-close').addEventListener('click', () => { clearMsg(); home(); });
  $('person-withdraw').addEventListener('click', () => { $('withdraw-confirm').hidden = false; });
  $('withdraw-no').addEventListener('click', () => { $('withdraw-confirm').hidden = true; });
  $('withdraw-yes').addEventListener('click', async () => {
    try {
      const r = await api('DELETE', `/api/v1/applicants/${state.applicant}/consent`);
      await openPerson(state.applicant);
      show(t('person.withdrawn', { n: r.templates_purged }), true);
    } catch (err) { show(err.message); }
  });

  // A new applicant; an ID number already registered opens that person instead.
  $('applicant-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = form(e.target);
    try {
      const r = await api('POST', '/api/v1/applicants', { full_name: f.full_name, id_number: f.id_number, phone: f.phone || null });
      state.applicant = r.id; state.returning = false;
      show(t('applicant.saved'), true);
      await startConsent();
    } catch (err) {
      if (err.status === 409) {
        const found = await search(f.id_number.replace(/\s/g, '')).catch(() => []);
        $('search-q').value = f.id_number;
        if (found.length === 1) { await openPerson(found[0].id); }
        show(t('applicant.exists'));
      } else show(err.message);
    }
  });

  // Consent: read, printed and signed first when signed, then recorded.
  async function startConsent() {
    const c = await api('GET', '/api/v1/consent/text');
    state.consentVersion = c.version; state.printed = false;
    $('consent-text').textContent = c.text;
    $('consent-form').reset();
    updateConsentButton();
    showSteps(['consent-step']);
  }
  function updateConsentButton() {
    const f = $('consent-form');
    $('consent-submit').disabled = !$('consent-agree').checked || (f.method.value === 'signature' && !state.printed);
  }
  $('consent-agree').addEventListener('change', updateConsentButton);
  $('consent-form').method.addEventListener('change', updateConsentButton);
  $('consent-print').addEventListener('click', () => {
    window.open(`/api/v1/applicants/${state.applicant}/consent/form`, '_blank');
    state.printed = true; updateConsentButton();
  });

  $('consent-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    if ($('consent-submit').disabled) return;
    try {
      await api('POST', `/api/v1/applicants/${state.applicant}/consent`, { text_version: state.consentVersion, method: form(e.target).method });
      show(t('consent.saved'), true);
      startFace(state.returning ? 'consent' : 'new');
    } catch (err) { show(err.message); }
  });

  $('consent-refuse').addEventListener('click', async () => {
    if (state.returning) { await openPerson(state.applicant).catch((err) => show(err.message)); show(t('consent.refused'), true); return; }
    show(t('consent.refused'), true); prepareDossier();
  });

  // Face capture: three good frames; a re-enrolment then replaces the old templates.
  function startFace(mode) {
    state.mode = mode; state.taken = []; state.enrolled = 0; state.paused = false; state.dupOf = null;
    $('enrolled-count').textContent = '0';
    $('duplicate').hidden = true; $('duplicate-other').hidden = true;
    showSteps(['face-step']);
    startCamera();
  }
  async function startCamera() {
    if (state.stream) return;
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      $('video').srcObject = state.stream;
      state.timer = setInterval(tick, 700);
    } catch (err) { show(t('face.no_camera')); }
  }
  function stopCamera() {
    clearInterval(state.timer); state.timer = null;
    if (state.stream) state.stream.getTracks().forEach((tr) => tr.stop());
    state.stream = null;
  }
  $('camera-start').addEventListener('click', startCamera);

  function frame() {
    const v = $('video');
    if (!v.videoWidth) return Promise.resolve(null);
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    c.getContext('2d').drawImage(v, 0, 0);
    return new Promise((res) => c.toBlob(res, 'image/jpeg', 0.9));
  }

  function quality(text, ok) {
    const q = $('quality');
    q.textContent = text; q.className = ok ? 'quality ok' : 'quality';
  }

  async function tick() {
    if (state.busy || state.paused || state.enrolled >= 3) return;
    state.busy = true;
    try {
      const blob = await frame();
      if (!blob) return;
      const q = await api('POST', '/api/v1/faces/check', blob, true);
      if (q.issue) { quality(t('quality.' + q.issue)); return; }
      quality(t('quality.ok'), true);
      const r = await api('POST', `/api/v1/applicants/${state.applicant}/faces`, blob, true);
      state.taken.push(r.template_id);
      state.enrolled = state.taken.length;
      $('enrolled-count').textContent = String(Math.min(state.enrolled, 3));
      if (r.possible_duplicate_of && state.dupOf === null) {
        // Stop and ask: discard what was just taken, look at the other record, or go on.
        state.dupOf = r.possible_duplicate_of; state.paused = true;
        $('duplicate-text').textContent = t(state.mode === 'new' ? 'face.duplicate_new' : 'face.duplicate');
        // A new registration: the same citizen (open their record) or a different one (kept
        // with a reason). A re-enrolment: discard the frames or go on.
        $('dup-existing').hidden = state.mode !== 'new';
        $('dup-reason').hidden = state.mode !== 'new'; $('dup-reason').value = '';
        $('duplicate').hidden = false;
        return;
      }
      if (state.enrolled >= 3) await finishFace();
    } catch (err) {
      if (err.code === 'low_quality' || err.code === 'no_face' || err.code === 'many_faces') quality(err.message);
      else show(err.message);
    } finally { state.busy = false; }
  }

  async function finishFace() {
    stopCamera();
    if (state.mode === 'reenrol') {
      const r = await api('POST', `/api/v1/applicants/${state.applicant}/faces/replace`, { templates: state.taken });
      await openPerson(state.applicant);
      show(t('face.replaced', { n: r.templates_deleted }), true);
      return;
    }
    if (state.mode === 'consent') {
      await openPerson(state.applicant);
      show(t('face.done_returning'), true);
      return;
    }
    show(state.dupOf ? t('face.done_checked') : t('face.done'), true);
    prepareDossier();
  }

  // The new record resolved against the one the face matched (server-side, audited): its
  // consent, templates and key go unless it is kept with a reason.
  const resolveDup = (body) => api('POST', `/api/v1/applicants/${state.applicant}/duplicate/${state.dupOf}/resolve`, body);
  $('dup-existing').addEventListener('click', async () => {
    clearMsg();
    try {
      const r = await resolveDup({ choice: 'use_existing' });
      stopCamera(); $('duplicate').hidden = true;
      await openPerson(r.applicant);
      show(t('face.dup_opened'), true);
    } catch (err) { show(err.message); }
  });
  $('dup-discard').addEventListener('click', async () => {
    clearMsg();
    if (state.mode === 'new') {
      try {
        await resolveDup({ choice: 'discard' });
        stopCamera(); $('duplicate').hidden = true;
        home();
        show(t('face.dup_discarded'), true);
      } catch (err) { show(err.message); }
      return;
    }
    try {
      const r = await api('POST', `/api/v1/applicants/${state.applicant}/faces/discard`, { templates: state.taken });
      stopCamera();
      $('duplicate').hidden = true;
      state.taken = []; state.enrolled = 0; $('enrolled-count').textContent = '0';
      show(t('face.discarded', { n: r.templates_deleted }), true);
      await openPerson(state.applicant);
    } catch (err) { show(err.message); }
  });
  $('dup-view').addEventListener('click', async () => {
    try {
      const o = await api('GET', `/api/v1/applicants/${state.applicant}/duplicate/${state.dupOf}`);
      $('duplicate-other').textContent = t('face.dup_other', { name: o.display_name, id: o.id_last2, at: day(o.registered_at), n: o.dossiers });
      $('duplicate-other').hidden = false;
    } catch (err) { show(err.message); }
  });
  $('dup-keep').addEventListener('click', async () => {
    clearMsg();
    if (state.mode === 'new') {
      try { await resolveDup({ choice: 'keep', reason: $('dup-reason').value.trim() }); } catch (err) { show(err.message); return; }
    }
    $('duplicate').hidden = true; state.paused = false;
    if (state.enrolled >= 3) await finishFace();
  });

  // Dossier and receipt.
  function prepareDossier() {
    const f = $('dossier-form');
    f.reset();
    $('receipt-actions').hidden = true;
    showSteps(['dossier-step']);
  }

  $('dossier-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = form(e.target);
    try {
      const r = await api('POST', '/api/v1/dossiers', {
        code: f.code, applicant_id: state.applicant, procedure: f.procedure,
        due_at: f.due_at,
        documents: f.documents.split('\n').map((s) => s.trim()).filter(Boolean),
      });
      $('receipt-link').href = `/api/v1/dossiers/${encodeURIComponent(r.code)}/receipt`;
      $('receipt-actions').hidden = false;
      show(t('dossier.saved'), true);
    } catch (err) { show(err.message); }
  });

  $('back-to-person').addEventListener('click', () => openPerson(state.applicant).catch((err) => show(err.message)));
  $('next-applicant').addEventListener('click', () => { stopCamera(); clearMsg(); home(); });

  // Kiosk "call staff" requests, live (server-sent events): each shows the kiosk's name
  // and time until a clerk answers it (here or at another desk).
  const calls = new Map();
  function renderCalls() {
    const list = $('help-list');
    list.replaceChildren();
    alerts.ring(calls);
    for (const c of calls.values()) {
      const li = document.createElement('li');
      li.dataset.call = c.id;
      const at = new Date(c.at * 1000).toLocaleTimeString(state.lang === 'vi' ? 'vi-VN' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
      li.append(document.createTextNode(`${t('desk.help_at')} ${c.kiosk} — ${at}`));
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'secondary'; b.textContent = t('desk.help_answer');
      b.addEventListener('click', async () => {
        try { await api('POST', `/api/v1/desk/help/${c.id}/answer`); } catch (err) { show(err.message); }
      });
      li.append(b);
      list.append(li);
    }
    $('help-calls').hidden = calls.size === 0;
  }
  function followHelpCalls() {
    if (state.helpSource) return;
    const es = new EventSource('/api/v1/desk/events');
    state.helpSource = es;
    es.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'help') calls.set(m.call.id, m.call); else calls.delete(m.call.id);
      renderCalls();
    };
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) { state.helpSource = null; setTimeout(followHelpCalls, 3000); } };
  }

  // A kiosk's call is heard and seen: a chime (Web Audio, no file), a system notification
  // where the browser allows it, and the tab's title blinking until every call is answered.
  const alerts = (() => {
    let ctx = null; let blink = null; const heard = new Set();
    const title = document.title;
    function chime() {
      if (!ctx) return;
      for (const [i, f] of [[0, 880], [1, 660]]) {
        const o = ctx.createOscillator(); const g = ctx.createGain();
        o.frequency.value = f; o.connect(g); g.connect(ctx.destination);
        const at = ctx.currentTime + i * 0.25;
        g.gain.setValueAtTime(0.3, at); g.gain.exponentialRampToValueAtTime(0.001, at + 0.5);
        o.start(at); o.stop(at + 0.5);
      }
      document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    }
    return {
      // Browsers let a page make sound only after a tap: the sign-in tap.
      unlock() { try { ctx = ctx || new AudioContext(); ctx.resume(); } catch (_) { ctx = null; } },
      ring(open) {
        for (const c of open.values()) {
          if (heard.has(c.id)) continue;
          heard.add(c.id);
          chime();
          if (window.Notification && Notification.permission === 'granted') {
            try { new Notification(t('desk.help_title'), { body: `${t('desk.help_at')} ${c.kiosk}`, tag: `help-${c.id}` }); } catch (_) { /* not allowed here */ }
          }
        }
        if (open.size && !blink) {
          let on = false;
          blink = setInterval(() => { on = !on; document.title = on ? `(${open.size}) ${t('desk.help_title')}` : title; }, 1000);
        } else if (!open.size && blink) { clearInterval(blink); blink = null; document.title = title; }
      },
    };
  })();

  // Another language: everything on screen, including what was drawn from data.
  $('lang').addEventListener('click', async () => {
    await loadLang(state.lang === 'vi' ? 'en' : 'vi');
    renderCalls();
    window.HosoClerk.overdue.render();
    if (!$('person-step').hidden && state.applicant) openPerson(state.applicant).catch((err) => show(err.message));
    if ($('search-results').children.length) search($('search-q').value.trim()).catch(() => {});
  });
  window.HosoClerk = { ui, openPerson };
  loadLang('vi');
})();
