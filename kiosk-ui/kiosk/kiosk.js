// Hồ Sơ lobby kiosk: sends ~5 camera frames a second to the server, shows its prompts,
// the result (masked name, dossiers, timeline, next action), the QR / keypad fallbacks and
// a one-tap rating. The device token comes once via #token=… and stays in localStorage.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const S = { token: null, session: null, inflight: false, mode: 'idle', strings: {}, lang: 'vi', clearTimer: null, result: null, absent: 0, tick: 0 };

  async function loadLang(lang) {
    S.strings = await (await fetch(`/locales/${lang}.json`)).json();
    S.lang = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { if (S.strings[el.dataset.i18n]) el.textContent = S.strings[el.dataset.i18n]; });
    if (S.result) renderResult(S.result);
  }
  const t = (k) => S.strings[k] || k;

  // The token comes once: from a one-time setup code (#pair=…, what the appliance is set
  // up with, so no token is ever on a command line) or typed/pasted (#token=…), and stays
  // in localStorage. A spent setup code on a restart is ignored once a token is kept.
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

  function newSession() { S.session = Math.random().toString(36).slice(2) + Date.now().toString(36); }

  function show(mode) {
    S.mode = mode;
    for (const id of ['idle', 'fallback', 'keypad', 'result']) $(id).hidden = id !== mode;
    document.body.dataset.mode = mode;
  }

  function reset() {
    clearTimeout(S.clearTimer);
    S.absent = 0;
    S.result = null;
    $('prompt').textContent = '';
    $('challenge').hidden = true;
    $('idle').classList.remove('challenging');
    $('code').value = ''; $('digits').value = ''; $('keypad-error').textContent = '';
    newSession();
    show('idle');
  }

  const video = $('video');
  const canvas = document.createElement('canvas');

  async function sendFrame() {
    // While a result is shown, check about once a second that the person is still there.
    const presence = S.mode === 'result';
    if (presence && (S.tick++ % 5 !== 0)) return;
    if (S.inflight || !(S.mode === 'idle' || S.mode === 'fallback' || presence) || !video.videoWidth) return;
    S.inflight = true;
    try {
      const w = Math.min(640, video.videoWidth);
      canvas.width = w; canvas.height = Math.round(video.videoHeight * w / video.videoWidth);
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.85));
      const r = await fetch('/api/v1/kiosk/frames', {
        method: 'POST', body: blob,
        headers: { 'Authorization': `Bearer ${S.token}`, 'Content-Type': 'image/jpeg', 'X-Kiosk-Session': S.session, ...(presence ? { 'X-Kiosk-Presence': '1' } : {}) },
      });
      if (r.status === 401) { localStorage.removeItem('hoso.kiosk.token'); location.reload(); return; }
      if (!r.ok) return;
      handle(await r.json());
    } catch (_) { /* offline for a moment: keep trying */ }
    finally { S.inflight = false; }
  }

  // A decision, from a frame we sent or from the server's own camera.
  function handle(d) {
    if (S.mode === 'result') {
      // Two empty checks in a row: the person has walked away.
      S.absent = d.state === 'searching' ? S.absent + 1 : 0;
      if (S.absent >= 2 && !S.result.keypad) reset();
      return;
    }
    if (d.state === 'challenge' && d.challenge) {
      if (S.mode !== 'idle') show('idle');
      renderChallenge(d);
      return;
    }
    $('challenge').hidden = true;
    $('idle').classList.remove('challenging');
    if (d.state === 'matched' && d.result) {
      if (S.mode === 'result') return;
      renderResult(d.result); show('result'); armClear();
    } else if (d.state === 'no_match' || d.state === 'spoof_suspected') {
      // The visit is decided once: the same session keeps it until the face leaves, so a
      // person left standing is not asked again (and not counted again).
      if (S.mode === 'idle') {
        $('fallback-reason').textContent = d.state === 'spoof_suspected' ? t('prompt.challenge_failed') : '';
        show('fallback');
      }
    }
    else if (S.mode === 'idle') $('prompt').textContent = d.prompt_key ? t(d.prompt_key) : '';
  }

  // The head-turn challenge: an arrow and a head that turns the asked way, the words, and
  // one dot per step.
  function renderChallenge(d) {
    const c = d.challenge;
    $('prompt').textContent = '';
    $('challenge').hidden = false;
    $('idle').classList.add('challenging');
    const dir = d.prompt_key === 'prompt.turn_left' ? 'left' : d.prompt_key === 'prompt.turn_right' ? 'right' : 'centre';
    $('challenge').dataset.dir = dir;
    $('arrow').textContent = dir === 'left' ? '←' : dir === 'right' ? '→' : '●';
    $('challenge-prompt').textContent = t(d.prompt_key);
    const steps = $('challenge-steps');
    steps.textContent = '';
    c.steps.forEach((s, i) => {
      const dot = el('span', i < c.done ? 'dot done' : 'dot', s === 'left' ? '←' : '→');
      steps.append(dot);
    });
  }

  // Server-camera mode (#camera=server): decisions arrive as server-sent events.
  async function listen() {
    for (;;) {
      try {
        const r = await fetch('/api/v1/kiosk/events', { headers: { 'Authorization': `Bearer ${S.token}` } });
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
            if (data && (S.mode === 'idle' || S.mode === 'fallback')) handle(JSON.parse(data));
          }
        }
      } catch (_) { /* reconnect */ }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  function fmtDate(s) {
    const d = new Date(s);
    return d.toLocaleDateString(S.lang === 'vi' ? 'vi-VN' : 'en-GB', { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'Asia/Ho_Chi_Minh' });
  }

  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

  function renderResult(res) {
    S.result = res;
    $('name').textContent = res.display_name;
    const box = $('dossiers');
    box.replaceChildren();
    if (!res.dossiers.length) box.append(el('p', null, t('kiosk.no_open')));
    for (const d of res.dossiers) {
      const c = el('div', 'dossier');
      c.dataset.code = d.code;
      c.append(el('h2', null, d.procedure), el('div', 'code', d.code));
      c.append(el('div', 'status', S.lang === 'vi' ? d.status_text : d.status_text_en));
      const due = el('div', 'due', `${t('kiosk.due')}: ${fmtDate(d.due_at)} — `);
      const tag = d.overdue ? el('span', 'overdue', t('kiosk.overdue')) : el('span', 'ontime', t('kiosk.on_time'));
      due.append(tag);
      if (d.moved_with_apology) due.append(el('span', null, ` · ${t('kiosk.moved')}`));
      c.append(due);
      const ul = el('ul', 'timeline');
      for (const s of d.timeline) ul.append(el('li', null, `${fmtDate(s.at)} — ${s.status_text}${s.agency ? ' (' + s.agency + ')' : ''}`));
      c.append(ul);
      c.append(el('div', 'next', `${t('kiosk.next')}: ${S.lang === 'vi' ? d.next_action : d.next_action_en}`));
      box.append(c);
    }
    const stars = $('stars');
    stars.replaceChildren();
    $('thanks').hidden = true;
    for (let i = 1; i <= 5; i++) {
      const b = el('button', null, '★'.repeat(i));
      b.setAttribute('aria-label', `${i}/5`);
      b.addEventListener('click', () => rate(i));
      stars.append(b);
    }
  }

  async function rate(score) {
    try {
      await fetch('/api/v1/kiosk/rating', { method: 'POST', headers: { 'Authorization': `Bearer ${S.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ score }) });
    } catch (_) { /* best effort */ }
    $('stars').replaceChildren(); $('thanks').hidden = false;
    clearTimeout(S.clearTimer); S.clearTimer = setTimeout(reset, 4000);
  }

  function armClear() { clearTimeout(S.clearTimer); S.clearTimer = setTimeout(reset, 30000); }

  async function lookup() {
    $('keypad-error').textContent = '';
    const r = await fetch('/api/v1/kiosk/lookup', {
      method: 'POST',
      headers: { 'Authorization': `Bearer ${S.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: $('code').value.trim(), id_digits: $('digits').value.trim() }),
    }).catch(() => null);
    if (r && r.ok) { const res = await r.json(); res.keypad = true; renderResult(res); show('result'); armClear(); return; }
    $('keypad-error').textContent = r && r.status === 429 ? t('kiosk.locked') : t('kiosk.lookup_failed');
  }

  // On-screen keys: digits, '.', '-', letters, delete. They type into the focused field.
  let target = null;
  function buildKeys() {
    const keys = [...'1234567890', '.', '-', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '⌫'];
    for (const k of keys) {
      const b = el('button', null, k);
      b.type = 'button';
      b.addEventListener('click', () => {
        const f = target || $('code');
        f.value = k === '⌫' ? f.value.slice(0, -1) : f.value + k;
        f.focus();
      });
      $('keys').append(b);
    }
    for (const id of ['code', 'digits']) $(id).addEventListener('focus', (e) => { target = e.target; });
  }

  function speak() {
    if (!('speechSynthesis' in window) || !S.result) return;
    const parts = [S.result.display_name, ...S.result.dossiers.map((d) => `${d.procedure}. ${d.status_text}. ${d.next_action}`)];
    const u = new SpeechSynthesisUtterance(parts.join('. '));
    const vi = speechSynthesis.getVoices().find((v) => v.lang && v.lang.startsWith(S.lang));
    if (vi) u.voice = vi;
    u.lang = S.lang === 'vi' ? 'vi-VN' : 'en-GB';
    speechSynthesis.speak(u);
  }

  async function start() {
    await loadLang('vi');
    buildKeys();
    S.token = await token();
    if (!S.token) {
      $('setup').hidden = false; show('none');
      $('token-save').addEventListener('click', () => { localStorage.setItem('hoso.kiosk.token', $('token-input').value.trim()); location.reload(); });
      return;
    }
    reset();
    if (/camera=server/.test(location.hash) || localStorage.getItem('hoso.kiosk.camera') === 'server') {
      localStorage.setItem('hoso.kiosk.camera', 'server');
      video.hidden = true;
      listen();
      return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (_) { $('prompt').textContent = t('kiosk.camera_error'); }
    setInterval(sendFrame, 200);
  }

  $('lang').addEventListener('click', () => loadLang(S.lang === 'vi' ? 'en' : 'vi'));
  $('show-qr').addEventListener('click', () => { newSession(); show('fallback'); });
  $('to-keypad').addEventListener('click', () => { show('keypad'); $('code').focus(); });
  $('to-keypad-idle').addEventListener('click', () => { show('keypad'); $('code').focus(); });
  $('keypad-back').addEventListener('click', reset);
  $('lookup').addEventListener('click', lookup);
  $('done').addEventListener('click', reset);
  $('speak').addEventListener('click', speak);
  start();
})();
