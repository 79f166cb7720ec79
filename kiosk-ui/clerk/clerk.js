// Hồ Sơ intake desk: sign-in, applicant, consent, face capture with live quality
// feedback (3 good frames), dossier and receipt. Strings come from /locales/*.json.
'use strict';
(() => {
  const ui = HosoStaff.create({ onUnauthorized: () => showStep('login-step') });
  const { $, loadLang, t, show, clearMsg, api } = ui;
  const state = Object.assign(ui.state, { applicant: null, enrolled: 0, stream: null, busy: false, timer: null });

  function showStep(id) {
    for (const s of ['login-step', 'applicant-step', 'consent-step', 'face-step', 'dossier-step']) $(s).hidden = s !== id;
    if (id === 'dossier-step' || id === 'face-step') $('applicant-step').hidden = true;
  }

  const form = (el) => Object.fromEntries(new FormData(el).entries());

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try {
      const r = await api('POST', '/api/v1/auth/login', form(e.target));
      state.csrf = r.csrf_token;
      $('logout').hidden = false;
      followHelpCalls();
      showStep('applicant-step');
    } catch (err) { show(err.message); }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/v1/auth/logout'); } catch (_) { /* already out */ }
    state.csrf = null; $('logout').hidden = true; stopCamera(); showStep('login-step');
    if (state.helpSource) { state.helpSource.close(); state.helpSource = null; }
    calls.clear(); renderCalls();
  });

  $('applicant-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = form(e.target);
    try {
      const r = await api('POST', '/api/v1/applicants', { full_name: f.full_name, id_number: f.id_number, phone: f.phone || null });
      state.applicant = r.id;
      const c = await api('GET', '/api/v1/consent/text');
      state.consentVersion = c.version;
      $('consent-text').textContent = c.text;
      show(t('applicant.saved'), true);
      showStep('consent-step');
    } catch (err) { show(err.message); }
  });

  $('consent-agree').addEventListener('change', (e) => { $('consent-submit').disabled = !e.target.checked; });

  $('consent-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    if (!$('consent-agree').checked) return;
    try {
      await api('POST', `/api/v1/applicants/${state.applicant}/consent`, { text_version: state.consentVersion, method: form(e.target).method });
      show(t('consent.saved'), true);
      $('consent-form-link').href = `/api/v1/applicants/${state.applicant}/consent/form`;
      showStep('face-step');
      startCamera();
    } catch (err) { show(err.message); }
  });

  $('consent-refuse').addEventListener('click', () => { show(t('consent.refused'), true); prepareDossier(); });

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

  // Each tick: check the frame; enrol it when it is good, until three are saved.
  async function tick() {
    if (state.busy || state.enrolled >= 3) return;
    state.busy = true;
    try {
      const blob = await frame();
      if (!blob) return;
      const q = await api('POST', '/api/v1/faces/check', blob, true);
      if (q.issue) { quality(t('quality.' + q.issue)); return; }
      quality(t('quality.ok'), true);
      const r = await api('POST', `/api/v1/applicants/${state.applicant}/faces`, blob, true);
      state.enrolled = r.templates;
      $('enrolled-count').textContent = String(Math.min(r.templates, 3));
      if (r.possible_duplicate_of) {
        $('duplicate').textContent = t('face.duplicate', { id: r.possible_duplicate_of });
        $('duplicate').hidden = false;
      }
      if (state.enrolled >= 3) { stopCamera(); show(t('face.done'), true); prepareDossier(); }
    } catch (err) {
      if (err.code === 'low_quality' || err.code === 'no_face' || err.code === 'many_faces') quality(err.message);
      else show(err.message);
    } finally { state.busy = false; }
  }

  function pad(n) { return String(n).padStart(2, '0'); }
  function prepareDossier() {
    const f = $('dossier-form');
    const now = new Date();
    f.received_at.value = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:${pad(now.getMinutes())}`;
    $('face-step').hidden = state.enrolled === 0;
    $('dossier-step').hidden = false;
    $('consent-step').hidden = true;
  }

  $('dossier-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = form(e.target);
    try {
      const r = await api('POST', '/api/v1/dossiers', {
        code: f.code, applicant_id: state.applicant, procedure: f.procedure,
        received_at: f.received_at.replace('T', ' '), due_at: f.due_at,
      });
      $('receipt-link').href = `/api/v1/dossiers/${encodeURIComponent(r.code)}/receipt`;
      $('receipt-actions').hidden = false;
      show(t('dossier.saved'), true);
    } catch (err) { show(err.message); }
  });

  $('next-applicant').addEventListener('click', () => {
    state.applicant = null; state.enrolled = 0;
    $('enrolled-count').textContent = '0'; $('duplicate').hidden = true;
    for (const id of ['applicant-form', 'consent-form', 'dossier-form']) $(id).reset();
    $('receipt-actions').hidden = true; clearMsg(); showStep('applicant-step');
  });

  // Kiosk "call staff" requests, live (server-sent events): each shows the kiosk's name
  // and time until a clerk answers it (here or at another desk).
  const calls = new Map();
  function renderCalls() {
    const list = $('help-list');
    list.replaceChildren();
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

  $('lang').addEventListener('click', () => loadLang(state.lang === 'vi' ? 'en' : 'vi'));
  loadLang('vi');
})();
