// Hồ Sơ lobby kiosk. One visit at a time: the camera looks for a face (about 5 frames a
// second); a result shows the person's dossiers, most urgent first, paged to fit the
// screen; "not found" is said once, calmly, with the fallbacks (receipt QR, keypad, call
// staff) and never restarts a challenge. Every screen returns to the start after a spell
// without a touch (asking "need more time?" first) or when the person walks away, and the
// start forgets everything: inputs, result, language. Read-aloud is audio made by the
// server (espeak-ng), so it works offline. The device token comes once (#pair=… or
// #token=…) and stays in localStorage.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const S = {
    token: null, session: null, inflight: false, mode: 'idle', strings: {}, lang: 'vi',
    result: null, page: 0, absent: 0, tick: 0, awaitLeave: false, lastTouch: Date.now(),
    leaveAt: 0, prefix: '', idleS: 30, audio: null, target: null, goneAtStart: 0, help: null,
  };
  const PAGE = 3;
  const LEAVE_GRACE_MS = 5000;
  // A call for staff keeps the screen (the citizen waits for the clerk) this long at most.
  const HELP_WAIT_MS = 180000;

  // Both locales are fetched once at start, so the start screen is back in Vietnamese the
  // moment a visit ends (no flash of the last citizen's language while a fetch runs).
  const LOCALES = {};
  async function fetchLocales() {
    await Promise.all(['vi', 'en'].map(async (l) => { LOCALES[l] = await (await fetch(`/locales/${l}.json`)).json(); }));
  }
  function loadLang(lang) {
    S.strings = LOCALES[lang] || S.strings;
    S.lang = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { if (S.strings[el.dataset.i18n]) el.textContent = S.strings[el.dataset.i18n]; });
    if (S.result) renderResult();
  }
  const t = (k, vars) => Object.entries(vars || {}).reduce((s, [k2, v]) => s.replace(`{${k2}}`, v), S.strings[k] || k);
  const api = (method, path, body, extra) => fetch(path, {
    method,
    headers: { 'Authorization': `Bearer ${S.token}`, ...(body && !(body instanceof Blob) ? { 'Content-Type': 'application/json' } : {}), ...(extra || {}) },
    body: body instanceof Blob ? body : body ? JSON.stringify(body) : undefined,
  });

  // The token comes once: from a one-time setup code (#pair=…, what the appliance is set
  // up with, so no token is ever on a command line) or typed/pasted (#token=…).
  async function token() {
    const m = location.hash.match(/token=([^&]+)/);
    const p = location.hash.match(/pair=([^&]+)/);
    if (/camera=server/.test(location.hash)) localStorage.setItem('hoso.kiosk.camera', 'server');
    if (m) localStorage.setItem('hoso.kiosk.token', decodeURIComponent(m[1]));
    if (p && !localStorage.getItem('hoso.kiosk.token')) {
      try {
        const r = await fetch('/api/v1/kiosk/pair', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: decodeURIComponent(p[1]) }) });
        if (r.ok) localStorage.setItem('hoso.kiosk.token', (await r.json()).token);
      } catch (e) { /* offline: the setup screen asks for a token */ }
    }
    if (m || p) history.replaceState(null, '', location.pathname);
    return localStorage.getItem('hoso.kiosk.token');
  }

  const newSession = () => { S.session = Math.random().toString(36).slice(2) + Date.now().toString(36); };

  function show(mode) {
    S.mode = mode;
    for (const id of ['idle', 'fallback', 'qr', 'keypad', 'confirm', 'result']) $(id).hidden = id !== mode;
    document.body.dataset.mode = mode;
    S.lastTouch = Date.now(); S.leaveAt = 0; S.absent = 0;
    $('more-time').hidden = true; $('returning').textContent = '';
  }

  // Back to the start, forgetting everything of the last citizen. Someone still standing
  // there is not asked again until they step away (a new visit starts with a new face).
  function reset() {
    stopSpeaking();
    S.result = null; S.page = 0;
    $('prompt').textContent = ''; $('fallback-reason').textContent = ''; $('fallback-hint').textContent = ''; $('qr-hint').textContent = '';
    $('challenge').hidden = true; $('idle').classList.remove('challenging');
    $('code').value = S.prefix; $('digits').value = ''; $('keypad-error').textContent = '';
    $('help-status').hidden = true; S.help = null; delete document.body.dataset.helpComing;
    $('dossiers').replaceChildren();
    S.awaitLeave = true; S.goneAtStart = 0;
    newSession();
    show('idle');
    if (S.lang !== 'vi') loadLang('vi');
  }

  const video = $('video');
  const canvas = document.createElement('canvas');

  // What to send this tick: a visit frame, a receipt frame (QR only, with presence), a
  // presence check, or nothing.
  function frameKind() {
    if (S.mode === 'idle') return S.awaitLeave ? 'presence' : 'visit';
    if (S.mode === 'qr') return 'receipt';
    if (S.mode === 'fallback') return S.tick % 2 === 0 ? 'receipt' : null;
    if (S.mode === 'result') return S.tick % 5 === 0 ? 'presence' : null;
    return null;
  }

  async function sendFrame() {
    S.tick++;
    const kind = frameKind();
    if (!kind || S.inflight || !video.videoWidth) return;
    S.inflight = true;
    try {
      const w = Math.min(640, video.videoWidth);
      canvas.width = w; canvas.height = Math.round(video.videoHeight * w / video.videoWidth);
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.9));
      const extra = { 'Content-Type': 'image/jpeg', 'X-Kiosk-Session': S.session };
      if (kind === 'presence') extra['X-Kiosk-Presence'] = '1';
      if (kind === 'receipt') extra['X-Kiosk-Mode'] = 'qr';
      const r = await api('POST', '/api/v1/kiosk/frames', blob, extra);
      if (r.status === 401) { localStorage.removeItem('hoso.kiosk.token'); location.reload(); return; }
      if (r.ok) handle(await r.json(), kind);
    } catch (_) { /* offline for a moment: keep trying */ } finally { S.inflight = false; }
  }

  // Whether someone is in front of the camera, from any frame's answer.
  const present = (d) => d.state !== 'searching';

  function handle(d, kind) {
    // After a visit the start waits until the person (or the receipt they held up) has
    // gone — two empty frames in a row — before it looks again: no loop on a receipt.
    if (kind === 'presence' && S.mode === 'idle') {
      S.goneAtStart = present(d) ? 0 : S.goneAtStart + 1;
      if (S.goneAtStart >= 2) S.awaitLeave = false;
      return;
    }
    if (d.state === 'matched' && d.result) { showResult(d.result, false, d.via); return; }
    // A receipt still held up is activity: its result stays until it is taken away and
    // the inactivity timer runs out.
    if (d.receipt) S.lastTouch = Date.now();
    if (S.mode === 'result' || S.mode === 'fallback') { watchPresence(present(d)); }
    if (S.mode === 'qr' || S.mode === 'fallback') {
      const hint = d.qr_hint ? t(d.qr_hint) : '';
      $(S.mode === 'qr' ? 'qr-hint' : 'fallback-hint').textContent = hint;
      return;
    }
    if (S.mode !== 'idle') return;
    if (d.state === 'challenge' && d.challenge) { renderChallenge(d); return; }
    if (d.state === 'confirm') { showConfirm(); return; }
    $('challenge').hidden = true; $('idle').classList.remove('challenging');
    if (d.state === 'no_match' || d.state === 'spoof_suspected') {
      // Said once per visit: the fallback screen stays until the person acts or leaves.
      $('fallback-reason').textContent = d.state === 'spoof_suspected' ? t('prompt.challenge_failed') : '';
      show('fallback');
    } else {
      $('prompt').textContent = d.qr_hint ? t(d.qr_hint) : d.prompt_key ? t(d.prompt_key) : '';
    }
  }

  // The person walked away: back to the start a few seconds later (unless they return).
  function watchPresence(here) {
    S.absent = here ? 0 : S.absent + 1;
    if (here) { S.leaveAt = 0; $('returning').textContent = ''; return; }
    // A result found by keypad or receipt stays until inactivity: the person may stand
    // aside or behind the paper, out of the camera's view.
    if (S.absent >= 2 && !S.leaveAt && !(S.result && (S.result.keypad || S.result.via === 'qr'))) S.leaveAt = Date.now() + LEAVE_GRACE_MS;
  }

  // The second step: the face was close but not sure enough among this many people, so
  // the last 2 ID digits decide. No frames are sent meanwhile; one answer per visit.
  function showConfirm() {
    S.confirm = '';
    renderConfirm();
    show('confirm');
  }

  function renderConfirm() {
    for (let i = 0; i < 2; i++) $(`confirm-d${i}`).textContent = i < S.confirm.length ? '●' : '';
  }

  async function sendConfirm(digits) {
    const r = await api('POST', '/api/v1/kiosk/confirm', { id_digits: digits }, { 'X-Kiosk-Session': S.session }).catch(() => null);
    const d = r && r.ok ? await r.json() : null;
    if (d && d.state === 'matched' && d.result) { showResult(d.result, false, d.via); return; }
    if (r && r.status === 409) { reset(); return; }
    $('fallback-reason').textContent = '';
    show('fallback');
  }

  function confirmKey(k) {
    if (k === '⌫') S.confirm = S.confirm.slice(0, -1);
    else if (S.confirm.length < 2) S.confirm += k;
    renderConfirm();
    if (S.confirm.length === 2) sendConfirm(S.confirm);
  }

  function renderChallenge(d) {
    const c = d.challenge;
    $('prompt').textContent = '';
    $('challenge').hidden = false;
    $('idle').classList.add('challenging');
    const dir = d.prompt_key === 'prompt.turn_left' ? 'left' : d.prompt_key === 'prompt.turn_right' ? 'right' : 'centre';
    $('challenge').dataset.dir = dir;
    $('arrow').textContent = dir === 'left' ? '←' : dir === 'right' ? '→' : '●';
    $('challenge-prompt').textContent = t(d.prompt_key);
    $('challenge-time').textContent = t('kiosk.seconds_left', { s: Math.max(0, Math.ceil(c.seconds_left)) });
    const steps = $('challenge-steps');
    steps.replaceChildren(...c.steps.map((s, i) => el('span', i < c.done ? 'dot done' : 'dot', s === 'left' ? '←' : '→')));
  }

  // Server-camera mode (#camera=server): decisions arrive as server-sent events.
  async function listen() {
    for (;;) {
      try {
        const r = await api('GET', '/api/v1/kiosk/events');
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i); buf = buf.slice(i + 2);
            const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('');
            if (data && S.mode === 'idle') handle(JSON.parse(data), 'visit');
          }
        }
      } catch (_) { /* reconnect */ }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  function fmtDate(s) {
    const d = new Date(s.replace(' ', 'T'));
    if (Number.isNaN(d.getTime())) return s;
    return d.toLocaleDateString(S.lang === 'vi' ? 'vi-VN' : 'en-GB', { day: '2-digit', month: '2-digit', year: 'numeric' });
  }

  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

  function showResult(res, keypad, via) {
    res.keypad = keypad; res.via = via;
    S.result = res; S.page = 0;
    stopSpeaking();
    $('thanks').hidden = true; $('rate-label').hidden = false;
    renderResult();
    show('result');
  }

  function dueTag(d) {
    if (d.status === 9 || d.status === 10) return el('span', 'ontime', t('kiosk.done_tag'));
    return d.overdue ? el('span', 'overdue', t('kiosk.overdue')) : el('span', 'ontime', t('kiosk.on_time'));
  }

  function renderResult() {
    const res = S.result;
    const en = S.lang === 'en';
    $('name').textContent = res.display_name;
    const pages = Math.max(1, Math.ceil(res.dossiers.length / PAGE));
    const shown = res.dossiers.slice(S.page * PAGE, S.page * PAGE + PAGE);
    const box = $('dossiers');
    box.replaceChildren();
    if (!res.dossiers.length) box.append(el('p', null, t('kiosk.no_open')));
    for (const d of shown) {
      const urgent = d.status === 5 || d.status === 6 || d.overdue;
      const c = el('div', `dossier${urgent ? ' urgent' : d.status === 9 ? ' ready' : ''}`);
      c.dataset.code = d.code;
      c.append(el('h2', null, d.procedure), el('div', 'code', d.code));
      c.append(el('div', 'status', en ? d.status_text_en : d.status_text));
      // After the office's apology the date shown is its new one ("Hẹn lại").
      const due = el('div', 'due', `${t(d.moved_with_apology ? 'kiosk.new_due' : 'kiosk.due')}: ${fmtDate(d.due_at)} — `);
      due.append(dueTag(d));
      c.append(due);
      const ul = el('ul', 'timeline');
      for (const s of d.timeline.slice(-3)) ul.append(el('li', null, `${fmtDate(s.at)} — ${en ? s.status_text_en : s.status_text}${s.agency ? ` (${s.agency})` : ''}`));
      c.append(ul);
      c.append(el('div', 'next', `${t('kiosk.next')}: ${en ? d.next_action_en : d.next_action}`));
      box.append(c);
    }
    $('pager').hidden = pages < 2;
    $('page-of').textContent = t('kiosk.page', { a: S.page + 1, b: pages });
    if (!$('thanks').hidden) return;
    const stars = $('stars');
    stars.replaceChildren();
    for (let i = 1; i <= 5; i++) {
      const b = el('button', null, '★'.repeat(i));
      b.type = 'button';
      b.setAttribute('aria-label', `${i}/5`);
      b.addEventListener('click', () => rate(i));
      stars.append(b);
    }
  }

  // A rating is one tap among others: the result and any reading aloud go on (the visit
  // ends on "Xong", on walking away or on inactivity).
  async function rate(score) {
    try { await api('POST', '/api/v1/kiosk/rating', { score }); } catch (_) { /* best effort */ }
    $('stars').replaceChildren(); $('rate-label').hidden = true; $('thanks').hidden = false;
  }

  async function lookup() {
    $('keypad-error').textContent = '';
    const digits = $('digits').value.trim();
    if (!/^\d{4}$/.test(digits)) { $('keypad-error').textContent = t('kiosk.digits_needed'); return; }
    const r = await api('POST', '/api/v1/kiosk/lookup', { code: $('code').value.trim(), id_digits: digits }, { 'X-Kiosk-Session': S.session }).catch(() => null);
    if (r && r.ok) { showResult(await r.json(), true); return; }
    $('digits').value = '';
    let msg = t('kiosk.lookup_failed');
    if (r && r.status === 429) {
      const body = await r.json().catch(() => ({}));
      const s = Number(r.headers.get('Retry-After')) || 60;
      msg = body.error === 'code_locked' ? t('kiosk.locked', { m: Math.ceil(s / 60) }) : t('kiosk.wait', { s });
    } else if (r && r.status === 400) msg = t('kiosk.digits_needed');
    $('keypad-error').textContent = msg;
  }

  // The keypad: digits as on a phone, letters in keyboard rows (for codes like H29);
  // they type into the focused field; the ID digits are masked.
  function buildKeys() {
    const key = (box, k, cls) => {
      const b = el('button', cls, k === '⌫' || k === 'clear' ? (k === 'clear' ? t('kiosk.clear') : '⌫') : k);
      b.type = 'button';
      if (k === 'clear') b.dataset.i18n = 'kiosk.clear';
      b.addEventListener('click', () => {
        const f = S.target || $('code');
        if (k === '⌫') f.value = f.value.slice(0, -1);
        else if (k === 'clear') f.value = f === $('code') ? S.prefix : '';
        else if (!(f === $('digits') && (f.value.length >= 4 || !/\d/.test(k)))) f.value += k;
        f.focus();
      });
      box.append(b);
    };
    // A telephone's layout: 1–9 in rows of three, then ⌫ and 0.
    for (const k of [...'123456789', '⌫', '0']) {
      const b = el('button', k === '⌫' ? 'key wide' : 'key', k);
      b.type = 'button';
      b.addEventListener('click', () => confirmKey(k));
      $('confirm-keys').append(b);
    }
    for (const k of [...'123456789']) key($('digit-keys'), k);
    key($('digit-keys'), 'clear', 'wide'); key($('digit-keys'), '0'); key($('digit-keys'), '⌫', 'wide');
    for (const k of [...'QWERTYUIOPASDFGHJKL', '-', ...'ZXCVBNM', '.']) key($('letter-keys'), k);
    for (const id of ['code', 'digits']) {
      $(id).addEventListener('focus', (e) => { S.target = e.target; $('letter-keys').hidden = id === 'digits'; });
    }
  }

  // Read-aloud: each phrase synthesised by the server (cached there), played in turn. The
  // phrases are the server's (it reads only those of a result shown here); the name and
  // codes are not read out in a public lobby.
  function phrases() {
    const en = S.lang === 'en';
    const out = [t('kiosk.greeting') + '.'];
    for (const d of S.result.dossiers.slice(S.page * PAGE, S.page * PAGE + PAGE)) {
      out.push(...(en ? d.say_en : d.say));
    }
    return out;
  }

  function stopSpeaking() {
    if (S.audio) { S.audio.stop = true; if (S.audio.el) S.audio.el.pause(); }
    S.audio = null;
    $('speak-status').textContent = '';
  }

  async function speak() {
    if (S.audio) { stopSpeaking(); return; }
    if (!S.result) return;
    const run = { stop: false, el: null };
    S.audio = run;
    $('speak-status').textContent = t('kiosk.speaking');
    try {
      for (const p of phrases()) {
        let r = await api('POST', '/api/v1/kiosk/speech', { lang: S.lang, text: p });
        // The engine is busy with other kiosks: wait as told, a few times.
        for (let i = 0; r.status === 503 && i < 5 && !run.stop; i++) {
          await new Promise((res) => setTimeout(res, 1000 * (Number(r.headers.get('Retry-After')) || 1)));
          r = await api('POST', '/api/v1/kiosk/speech', { lang: S.lang, text: p });
        }
        if (!r.ok) throw new Error(`speech ${r.status}`);
        const url = URL.createObjectURL(await r.blob());
        if (run.stop) return;
        run.el = new Audio(url);
        await new Promise((res, rej) => { run.el.onended = res; run.el.onerror = rej; run.el.play().catch(rej); });
        URL.revokeObjectURL(url);
        document.body.dataset.spoken = String(Number(document.body.dataset.spoken || 0) + 1);
        if (run.stop) return;
      }
      if (S.audio === run) { S.audio = null; $('speak-status').textContent = ''; }
    } catch (_) {
      if (S.audio === run) { S.audio = null; $('speak-status').textContent = t('kiosk.speak_failed'); }
    }
  }

  function helpStatus(key) {
    const b = $('help-status');
    b.dataset.i18n = key; b.textContent = t(key); b.hidden = false;
  }

  // "Call staff": the desks are told; once a clerk answers, the kiosk says they are coming
  // and keeps the screen until the visit ends (or a few minutes pass).
  async function callStaff() {
    const r = await api('POST', '/api/v1/kiosk/help').catch(() => null);
    S.lastTouch = Date.now();
    if (!r || !r.ok) { helpStatus('kiosk.help_failed'); return; }
    const call = await r.json();
    const help = { id: call.id, since: Date.now() };
    S.help = help;
    helpStatus(call.answered_at ? 'kiosk.help_coming' : 'kiosk.help_sent');
    while (S.help === help && !call.answered_at && Date.now() - help.since < HELP_WAIT_MS) {
      await new Promise((res) => setTimeout(res, 2000));
      const q = await api('GET', `/api/v1/kiosk/help/${help.id}`).catch(() => null);
      if (S.help !== help) return;
      if (q && q.ok && (await q.json()).answered_at) {
        helpStatus('kiosk.help_coming');
        document.body.dataset.helpComing = '1';
        return;
      }
    }
  }

  // Once a second: a calm countdown back to the start (sooner once the person has left),
  // the "need more time?" question, and the return to the start.
  function clock() {
    const now = Date.now();
    if (S.mode === 'idle') return;
    // Never mid-reading, nor while the citizen waits for the clerk they called.
    if (S.audio || (S.help && now - S.help.since < HELP_WAIT_MS)) {
      S.lastTouch = now;
      if (S.leaveAt) S.leaveAt = Math.max(S.leaveAt, now + LEAVE_GRACE_MS);
    }
    const idle = (now - S.lastTouch) / 1000;
    let left = Math.ceil(S.idleS + 10 - idle);
    if (S.leaveAt) left = Math.min(left, Math.ceil((S.leaveAt - now) / 1000));
    if (left <= 0) { reset(); return; }
    $('returning').textContent = t('kiosk.returning', { s: left });
    if (idle >= S.idleS) {
      $('more-time').hidden = false;
      $('more-time-left').textContent = t('kiosk.returning', { s: left });
    }
  }

  // The fallbacks stay in the visit's session: a look-up there resolves the same visit
  // (the statistics count one visit, not two).
  const toQr = () => show('qr');
  const toKeypad = () => { show('keypad'); $('code').value = $('code').value || S.prefix; $('code').focus(); };

  async function start() {
    await fetchLocales();
    loadLang('vi');
    S.token = await token();
    if (!S.token) {
      $('setup').hidden = false; show('none'); document.body.dataset.mode = 'none';
      $('token-save').addEventListener('click', () => { localStorage.setItem('hoso.kiosk.token', $('token-input').value.trim()); location.reload(); });
      document.body.dataset.ready = 'setup';
      return;
    }
    try {
      const r = await api('GET', '/api/v1/kiosk/setup');
      if (r.ok) { const c = await r.json(); S.prefix = c.code_prefix || ''; S.idleS = c.inactivity_seconds || 30; }
    } catch (_) { /* defaults */ }
    buildKeys();
    reset();
    S.awaitLeave = false;
    // Set up (token kept, setup code spent and gone from the address): tests wait for this.
    document.body.dataset.ready = '1';
    setInterval(clock, 1000);
    if (localStorage.getItem('hoso.kiosk.camera') === 'server') { $('camera').hidden = true; listen(); return; }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (_) { $('prompt').textContent = t('kiosk.camera_error'); }
    setInterval(sendFrame, 200);
  }

  // Any touch is activity: the screen stays, the question goes away.
  for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, () => { S.lastTouch = Date.now(); $('more-time').hidden = true; }, true);
  $('lang').addEventListener('click', () => loadLang(S.lang === 'vi' ? 'en' : 'vi'));
  $('help').addEventListener('click', callStaff);
  $('fallback-help').addEventListener('click', callStaff);
  for (const id of ['show-qr', 'to-qr-idle', 'challenge-qr']) $(id).addEventListener('click', toQr);
  for (const id of ['to-keypad', 'to-keypad-idle', 'challenge-keypad', 'qr-keypad']) $(id).addEventListener('click', toKeypad);
  document.querySelectorAll('.home').forEach((b) => b.addEventListener('click', reset));
  $('more-time-yes').addEventListener('click', () => { S.lastTouch = Date.now(); $('more-time').hidden = true; });
  $('lookup').addEventListener('click', lookup);
  $('confirm-not-me').addEventListener('click', () => sendConfirm(''));
  $('done').addEventListener('click', reset);
  $('speak').addEventListener('click', speak);
  $('next-page').addEventListener('click', () => { S.page = (S.page + 1) % Math.ceil(S.result.dossiers.length / PAGE); stopSpeaking(); renderResult(); });
  start();
})();
