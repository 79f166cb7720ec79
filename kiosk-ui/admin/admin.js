// Hồ Sơ admin desk: statistics, consent register and purges, data-subject requests,
// audit log viewer, accounts, devices, settings and backups. Strings come from
// /locales/*.json; names are shown masked; nothing here shows a face.
'use strict';
(() => {
  const ui = HosoStaff.create({ onUnauthorized: () => loggedOut() });
  const { $, loadLang, t, show, clearMsg, api } = ui;
  const state = Object.assign(ui.state, { tab: 'stats', settings: null });

  const fmtTime = (s) => {
    if (s === null || s === undefined) return '—';
    const d = new Date(s * 1000);
    return d.toLocaleString(state.lang === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: 'Asia/Ho_Chi_Minh', dateStyle: 'short', timeStyle: 'short' });
  };
  const pct = (x) => `${(x * 100).toFixed(1)} %`;

  // A table from column specs [{h: locale key, v: row => text | Node}].
  function table(el, cols, rows, empty) {
    el.textContent = '';
    if (!rows.length) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = t(empty || 'admin.empty');
      el.append(p);
      return;
    }
    const tb = document.createElement('table');
    const head = tb.createTHead().insertRow();
    for (const c of cols) {
      const th = document.createElement('th');
      th.textContent = t(c.h);
      head.append(th);
    }
    const body = tb.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      if (r.id !== undefined) tr.dataset.id = r.id;
      if (r.applicant_id !== undefined) tr.dataset.applicant = r.applicant_id;
      for (const c of cols) {
        const td = tr.insertCell();
        const v = c.v(r);
        if (v instanceof Node) td.append(v); else td.textContent = v === null || v === undefined ? '—' : String(v);
      }
    }
    el.append(tb);
  }

  function button(label, cls, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = t(label);
    if (cls) b.className = cls;
    b.addEventListener('click', onClick);
    return b;
  }

  // A destructive action asks once more on the same button (no pop-up dialogs).
  function confirmButton(label, confirmLabel, onConfirm) {
    let armed = false;
    const b = button(label, 'danger', async () => {
      if (!armed) {
        armed = true;
        b.textContent = t(confirmLabel);
        b.classList.add('armed');
        setTimeout(() => { armed = false; b.textContent = t(label); b.classList.remove('armed'); }, 6000);
        return;
      }
      b.disabled = true;
      try { await onConfirm(); } catch (err) { show(err.message); b.disabled = false; }
    });
    return b;
  }

  const group = (...nodes) => { const s = document.createElement('span'); s.append(...nodes); return s; };

  // ---- tabs ----
  const loaders = {
    async stats() {
      const s = await api('GET', `/api/v1/admin/stats?days=${$('stats-days').value}`);
      const cards = [
        ['admin.stats.lookups', s.total],
        ['admin.stats.face', pct(s.share_face)],
        ['admin.stats.qr', pct(s.share_qr)],
        ['admin.stats.keypad', pct(s.share_keypad)],
        ['admin.stats.unresolved', pct(s.share_unresolved)],
        ['admin.stats.median', s.median_face_ms === null ? '—' : `${(s.median_face_ms / 1000).toFixed(1)} s`],
        ['admin.stats.rating', s.rating_mean === null ? '—' : `${s.rating_mean.toFixed(2)} / 5 (${s.ratings.reduce((a, b) => a + b, 0)})`],
        ['admin.stats.on_time', s.on_time_rate === null ? '—' : pct(s.on_time_rate)],
        ['admin.stats.finished', `${s.dossiers.finished_on_time} / ${s.dossiers.finished_late}`],
        ['admin.stats.open', `${s.dossiers.open_on_time} / ${s.dossiers.open_overdue}`],
        ['admin.stats.gallery', `${s.gallery_people} (${s.gallery_templates})`],
        ['admin.stats.requests', `${s.open_requests} / ${s.late_requests}`],
      ];
      const el = $('stats-cards');
      el.textContent = '';
      for (const [k, v] of cards) {
        const d = document.createElement('div');
        d.className = 'card';
        d.dataset.key = k;
        const b = document.createElement('strong'); b.textContent = v;
        const l = document.createElement('span'); l.textContent = t(k);
        d.append(b, l);
        el.append(d);
      }
      table($('stats-days-table'), [
        { h: 'admin.col.day', v: (r) => r.day },
        { h: 'admin.stats.face', v: (r) => r.face },
        { h: 'admin.stats.qr', v: (r) => r.qr },
        { h: 'admin.stats.keypad', v: (r) => r.keypad },
        { h: 'admin.stats.unresolved', v: (r) => r.unresolved },
      ], s.per_day.slice().reverse());
    },

    async consents(q) {
      const rows = await api('GET', `/api/v1/admin/consents${q ? `?q=${encodeURIComponent(q)}` : ''}`);
      table($('consents-table'), [
        { h: 'admin.col.applicant', v: (r) => `#${r.applicant_id} ${r.display_name}` },
        { h: 'admin.col.consent', v: (r) => r.granted_at ? `${fmtTime(r.granted_at)} (${r.method}, ${r.text_version})` : '—' },
        { h: 'admin.col.withdrawn', v: (r) => r.withdrawn_at ? `${fmtTime(r.withdrawn_at)} — ${r.withdrawn_note || ''}` : '—' },
        { h: 'admin.col.face', v: (r) => r.needs_reenrolment ? t('admin.face.reenrol', { n: r.templates }) : r.templates > 0 ? t('admin.face.held', { n: r.templates }) : (r.biometrics_purged_at ? t('admin.face.purged', { at: fmtTime(r.biometrics_purged_at) }) : '—') },
        { h: 'admin.col.open', v: (r) => r.open_dossiers },
        {
          h: 'admin.col.actions',
          v: (r) => (r.withdrawn_at || !r.consent_id) && r.templates === 0 ? '' : group(
            confirmButton('admin.withdraw', 'admin.confirm', async () => {
              const x = await api('DELETE', `/api/v1/applicants/${r.applicant_id}/consent`);
              show(t('admin.withdrawn', { n: x.templates_purged }), true);
              await loaders.consents(q);
            })),
        },
      ], rows);
      const ret = await api('GET', '/api/v1/admin/retention');
      table($('retention-table'), [
        { h: 'admin.col.applicant', v: (r) => `#${r.applicant_id} ${r.display_name}` },
        { h: 'admin.col.closed', v: (r) => r.closed_at ? fmtTime(r.closed_at) : t('admin.retention.no_dossier') },
        { h: 'admin.col.due', v: (r) => fmtTime(r.due_at) },
      ], ret.people, 'admin.retention.none');
    },

    async requests() {
      const rows = await api('GET', '/api/v1/admin/requests');
      const step = (r, s, label) => button(label, 'small', async () => {
        try {
          await api('POST', `/api/v1/admin/requests/${r.id}/${s}`, { note: '' });
          await loaders.requests();
        } catch (err) { show(err.message); }
      });
      table($('requests-table'), [
        { h: 'admin.col.id', v: (r) => r.id },
        { h: 'admin.col.applicant', v: (r) => `#${r.applicant_id}` },
        { h: 'admin.col.kind', v: (r) => t(`admin.kind.${r.kind}`) },
        { h: 'admin.col.received', v: (r) => fmtTime(r.received_at) },
        { h: 'admin.col.ack_due', v: (r) => `${fmtTime(r.ack_due_at)}${r.ack_overdue ? ' ⚠' : ''}` },
        { h: 'admin.col.due', v: (r) => `${fmtTime(r.due_at)}${r.overdue ? ' ⚠' : ''}` },
        { h: 'admin.col.status', v: (r) => t(`admin.status.${r.status}`) },
        {
          h: 'admin.col.actions',
          v: (r) => {
            const g = group();
            if (r.kind === 'access') {
              const a = document.createElement('a');
              a.href = `/api/v1/admin/requests/${r.id}/export`; a.target = '_blank'; a.className = 'button small secondary';
              a.textContent = t('admin.requests.export');
              g.append(a);
            }
            if (r.status === 'received') g.append(step(r, 'acknowledge', 'admin.requests.ack'));
            if (r.status === 'received' || r.status === 'acknowledged') {
              g.append(r.kind === 'access' ? step(r, 'complete', 'admin.requests.complete')
                : confirmButton('admin.requests.complete_purge', 'admin.confirm', async () => {
                  await api('POST', `/api/v1/admin/requests/${r.id}/complete`, { note: '' });
                  await loaders.requests();
                }));
            }
            return g;
          },
        },
      ], rows);
    },

    async audit() {
      const f = Object.fromEntries(new FormData($('audit-filter')).entries());
      const p = new URLSearchParams();
      for (const k of ['action', 'actor', 'subject']) if (f[k]) p.set(k, f[k].trim());
      if (f.from) p.set('from', Math.floor(new Date(`${f.from}T00:00:00+07:00`).getTime() / 1000));
      if (f.to) p.set('to', Math.floor(new Date(`${f.to}T00:00:00+07:00`).getTime() / 1000) + 86400);
      const rows = await api('GET', `/api/v1/admin/audit?${p}`);
      p.set('format', 'csv');
      $('audit-csv').href = `/api/v1/admin/audit?${p}`;
      const v = await api('GET', '/api/v1/admin/audit/verify');
      $('audit-chain').textContent = v.intact ? t('admin.audit.intact') : t('admin.audit.broken', { entry: v.broken.entry, reason: v.broken.reason });
      $('audit-chain').className = v.intact ? 'ok' : 'warn';
      table($('audit-table'), [
        { h: 'admin.col.id', v: (r) => r.id },
        { h: 'admin.col.time', v: (r) => fmtTime(r.at) },
        { h: 'admin.col.actor', v: (r) => r.actor },
        { h: 'admin.col.action', v: (r) => r.action },
        { h: 'admin.col.subject', v: (r) => r.subject },
        { h: 'admin.col.detail', v: (r) => r.detail === '{}' ? '' : r.detail },
      ], rows);
    },

    async users() {
      const rows = await api('GET', '/api/v1/admin/users');
      table($('users-table'), [
        { h: 'login.username', v: (r) => r.username },
        { h: 'admin.col.role', v: (r) => t(`admin.role.${r.role}`) },
        { h: 'admin.col.active', v: (r) => r.active ? t('admin.yes') : t('admin.no') },
        { h: 'admin.col.last_login', v: (r) => fmtTime(r.last_login_at) },
        {
          h: 'admin.col.actions',
          v: (r) => {
            const g = group();
            const lock = button(r.active ? 'admin.users.deactivate' : 'admin.users.activate', 'small secondary', async () => {
              try { await api('POST', `/api/v1/admin/users/${r.id}`, { active: !r.active }); await loaders.users(); } catch (err) { show(err.message); }
            });
            // A new password, typed in place; the account's sessions end.
            const reset = button('admin.users.reset', 'small secondary', () => {
              const pw = document.createElement('input');
              pw.type = 'password'; pw.minLength = 10; pw.autocomplete = 'new-password'; pw.className = 'new-password';
              pw.placeholder = t('admin.users.new_password');
              const save = button('admin.save', 'small', async () => {
                clearMsg();
                try { await api('POST', `/api/v1/admin/users/${r.id}`, { password: pw.value }); show(t('admin.users.reset_done'), true); await loaders.users(); }
                catch (err) { show(err.message); }
              });
              g.replaceChildren(pw, save);
              pw.focus();
            });
            g.append(lock, reset);
            return g;
          },
        },
      ], rows);
    },

    async devices() {
      const rows = await api('GET', '/api/v1/admin/devices');
      table($('devices-table'), [
        { h: 'admin.devices.name', v: (r) => r.name },
        { h: 'admin.col.role', v: (r) => r.role === 'kiosk' ? 'Kiosk' : t('admin.role.integration') },
        { h: 'admin.col.last_seen', v: (r) => fmtTime(r.last_seen_at) },
        { h: 'admin.col.last_frame', v: (r) => r.role === 'kiosk' ? `${fmtTime(r.last_frame_at)} (${r.unreadable_frames})` : '' },
        { h: 'admin.col.status', v: (r) => r.revoked_at ? t('admin.devices.revoked', { at: fmtTime(r.revoked_at) }) : t('admin.devices.active') },
        {
          h: 'admin.col.actions',
          v: (r) => r.revoked_at ? '' : confirmButton('admin.devices.revoke', 'admin.confirm', async () => {
            await api('DELETE', `/api/v1/admin/devices/${r.id}`);
            await loaders.devices();
          }),
        },
      ], rows);
    },

    async settings() {
      const s = await api('GET', '/api/v1/admin/settings');
      state.settings = s;
      const f = $('settings-form');
      f.retention_grace_days.value = s.retention_grace_days;
      f.kiosk_threshold.value = s.kiosk_threshold ?? s.calibrated_threshold ?? '';
      f.kiosk_margin.value = s.kiosk_margin ?? s.calibrated_margin ?? '';
      $('calibrated').textContent = t('admin.settings.calibrated', {
        threshold: s.calibrated_threshold?.toFixed(3) ?? '—',
        margin: s.calibrated_margin?.toFixed(3) ?? '—',
      });
      $('off-calibration').hidden = !s.off_calibration;
      const b = await api('GET', '/api/v1/admin/backups');
      table($('backups-table'), [
        { h: 'admin.col.file', v: (r) => r.file },
        { h: 'admin.col.time', v: (r) => fmtTime(r.at) },
        { h: 'admin.col.size', v: (r) => `${(r.bytes / 1048576).toFixed(2)} MiB` },
      ], b.backups);
    },
  };

  async function openTab(name) {
    state.tab = name;
    document.querySelectorAll('.tab').forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
    document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === name));
    clearMsg();
    try { await loaders[name](); } catch (err) { show(err.message); }
  }

  function loggedOut() {
    state.csrf = null;
    $('logout').hidden = true; $('tabs').hidden = true;
    document.querySelectorAll('.tab').forEach((s) => { s.hidden = true; });
    $('login-step').hidden = false;
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try {
      const r = await api('POST', '/api/v1/auth/login', Object.fromEntries(new FormData(e.target).entries()));
      if (r.role !== 'admin') { show(t('admin.not_admin')); return; }
      state.csrf = r.csrf_token;
      $('login-step').hidden = true; $('logout').hidden = false; $('tabs').hidden = false;
      await openTab('stats');
    } catch (err) { show(err.message); }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/v1/auth/logout'); } catch (_) { /* already out */ }
    loggedOut();
  });
  $('lang').addEventListener('click', async () => { await loadLang(state.lang === 'vi' ? 'en' : 'vi'); if (state.csrf) openTab(state.tab); });
  document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => openTab(b.dataset.tab)));
  $('stats-days').addEventListener('change', () => openTab('stats'));

  $('consent-search').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try { await loaders.consents(e.target.q.value.trim()); } catch (err) { show(err.message); }
  });
  $('retention-run').addEventListener('click', async () => {
    try {
      const r = await api('POST', '/api/v1/admin/retention', { dry_run: false });
      show(t('admin.retention.done', { n: r.people.length, b: r.backups.length }), true);
      await loaders.consents();
    } catch (err) { show(err.message); }
  });

  $('request-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = Object.fromEntries(new FormData(e.target).entries());
    const who = f.who.replace(/\s/g, '');
    const body = { kind: f.kind, channel: f.channel };
    if (who.length >= 12) body.id_number = who; else body.applicant_id = Number(who);
    try { await api('POST', '/api/v1/admin/requests', body); e.target.reset(); await loaders.requests(); show(t('admin.requests.added'), true); }
    catch (err) { show(err.message); }
  });

  $('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); openTab('audit'); });

  $('user-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try { await api('POST', '/api/v1/admin/users', Object.fromEntries(new FormData(e.target).entries())); e.target.reset(); await loaders.users(); }
    catch (err) { show(err.message); }
  });

  $('device-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try {
      const r = await api('POST', '/api/v1/admin/devices', Object.fromEntries(new FormData(e.target).entries()));
      const pre = $('device-token');
      pre.textContent = r.setup_code
        ? t('admin.devices.setup', { link: `${location.origin}/kiosk/#pair=${r.setup_code}`, token: r.token })
        : t('admin.devices.token', { token: r.token });
      pre.hidden = false;
      e.target.reset();
      await loaders.devices();
    } catch (err) { show(err.message); }
  });

  $('settings-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = e.target;
    const num = (v) => (v === '' ? null : Number(v));
    const s = state.settings || {};
    let threshold = num(f.kiosk_threshold.value);
    let margin = num(f.kiosk_margin.value);
    // Unchanged calibrated values stay "calibrated" (they follow a model update).
    if (s.kiosk_threshold === null && threshold !== null && Math.abs(threshold - s.calibrated_threshold) < 5e-4) threshold = null;
    if (s.kiosk_margin === null && margin !== null && Math.abs(margin - s.calibrated_margin) < 5e-4) margin = null;
    try {
      await api('PUT', '/api/v1/admin/settings', { retention_grace_days: Number(f.retention_grace_days.value), kiosk_threshold: threshold, kiosk_margin: margin });
      show(t('admin.saved'), true);
      await loaders.settings();
    } catch (err) { show(err.message); }
  });
  $('settings-reset').addEventListener('click', async () => {
    try {
      await api('PUT', '/api/v1/admin/settings', { retention_grace_days: Number($('settings-form').retention_grace_days.value), kiosk_threshold: null, kiosk_margin: null });
      show(t('admin.saved'), true);
      await loaders.settings();
    } catch (err) { show(err.message); }
  });
  $('backup-now').addEventListener('click', async () => {
    try { const r = await api('POST', '/api/v1/admin/backups'); show(t('admin.backups.done', { file: r.file }), true); await loaders.settings(); }
    catch (err) { show(err.message); }
  });

  loadLang('vi');
})();
