// Shared by the staff pages (intake desk, admin): locale strings, the message bar and the
// API call (JSON errors in words, CSRF token on state changes). Each page creates its own:
//   const ui = HosoStaff.create({ onUnauthorized: () => … });
'use strict';
window.HosoStaff = {
  create({ onUnauthorized }) {
    const $ = (id) => document.getElementById(id);
    const state = { csrf: null, lang: 'vi', strings: {} };

    async function loadLang(lang) {
      const r = await fetch(`/locales/${lang}.json`);
      state.strings = await r.json();
      state.lang = lang;
      document.documentElement.lang = lang;
      document.querySelectorAll('[data-i18n]').forEach((el) => {
        const s = state.strings[el.dataset.i18n];
        if (s) el.textContent = s;
      });
      document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => {
        const s = state.strings[el.dataset.i18nPlaceholder];
        if (s) el.placeholder = s;
      });
    }
    const t = (k, vars) => {
      let s = state.strings[k] || k;
      for (const [n, v] of Object.entries(vars || {})) s = s.replace(`{${n}}`, v);
      return s;
    };

    function show(msg, info) {
      const m = $('message');
      m.textContent = msg;
      m.className = info ? 'info' : '';
      m.hidden = false;
    }
    function clearMsg() { $('message').hidden = true; }

    // `raw`: the body is a JPEG frame, sent as is.
    async function api(method, path, body, raw) {
      const headers = {};
      if (state.csrf && method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
      let payload;
      if (raw) { payload = body; headers['Content-Type'] = 'image/jpeg'; }
      else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
      let r;
      try { r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' }); }
      catch (e) { throw new Error(t('error.network')); }
      const data = await r.json().catch(() => ({}));
      if (!r.ok) {
        const login = path === '/api/v1/auth/login';
        // One language per message: the page's words for the error (and the field at fault);
        // the server's English detail only on the English page.
        const label = t('error.' + (data.error || 'internal'));
        const text = login && r.status === 401 ? t('login.failed')
          : data.field ? `${label}: ${t('field.' + data.field)}`
            : state.lang === 'en' && data.message ? `${label}: ${data.message}` : label;
        const err = new Error(text);
        err.code = data.error; err.status = r.status;
        if (r.status === 401 && !login) onUnauthorized();
        throw err;
      }
      return data;
    }

    return { $, state, loadLang, t, show, clearMsg, api };
  },
};
