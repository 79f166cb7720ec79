// Hồ Sơ admin desk: statistics, consent register and purges, data-subject requests,
// audit log viewer, accounts, devices, settings and backups. Strings come from
// /locales/*.json; names are shown masked; nothing here shows a face.
'use strict';
(() => {
  const ui = HosoStaff.create({ onUnauthorized: () => loggedOut() });
  const { $, loadLang, t, show, clearMsg, api } = ui;
  const state = Object.assign(ui.state, { tab: 'stats', settings: null, offices: [], province: true });

  // Offices (tenants): an office's admin sees their office; a province admin sees all and
  // alone has settings, retention and backups. The office column and choice show only when
  // there is more than one office.
  const officeName = (id) => id === null || id === undefined
    ? t('admin.office.province')
    : (state.offices.find((o) => o.id === id) || { name: `#${id}` }).name;
  const manyOffices = () => state.offices.length > 1;
  async function loadOffices() {
    const [me, offices] = await Promise.all([api('GET', '/api/v1/auth/me'), api('GET', '/api/v1/admin/offices')]);
    state.province = me.province; state.offices = offices;
    const label = $('office-label');
    label.textContent = state.province ? t('admin.office.province') : officeName(me.office);
    label.hidden = !manyOffices() && state.province;
    document.querySelectorAll('.province-only').forEach((el) => { el.hidden = !state.province; });
    document.querySelectorAll('select.office-choice').forEach((sel) => {
      sel.replaceChildren();
      sel.hidden = !(state.province && manyOffices());
      const add = (value, text) => { const o = document.createElement('option'); o.value = value; o.textContent = text; sel.append(o); };
      for (const o of state.offices) add(o.code, o.name);
      add('', t('admin.office.province'));
    });
  }
  // The office field of a form: sent only when the admin chose among several offices.
  const officeField = (form, f) => { if (form.querySelector('select.office-choice').hidden) delete f.office; return f; };

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

  // The statistics drawn (plain SVG from charts.js; nothing is fetched from outside).
  function charts(s) {
    const C = window.HosoCharts;
    const series = ['admin.stats.face', 'admin.stats.qr', 'admin.stats.keypad', 'admin.stats.unresolved'].map((k) => t(k));
    $('chart-methods').replaceChildren(C.stacked(t('admin.stats.per_day'),
      s.per_day.map((d) => ({ label: d.day.slice(5).split('-').reverse().join('/'), values: [d.face, d.qr, d.keypad, d.unresolved] })), series));
    $('chart-ontime').replaceChildren(C.shares(t('admin.stats.on_time_week'),
      s.on_time_by_week.map((w) => ({ label: w.week.slice(5).split('-').reverse().join('/'), share: w.on_time + w.late ? w.on_time / (w.on_time + w.late) : null, note: `(${w.on_time}/${w.on_time + w.late})` }))));
    $('chart-ratings').replaceChildren(C.horizontal(t('admin.stats.ratings'),
      [5, 4, 3, 2, 1].map((n) => ({ label: '★'.repeat(n), value: s.ratings[n - 1] }))));
    // Kiosk health: look-ups in the period, the share left unresolved, the last frame.
    const kiosks = (s.kiosks || []).filter((d) => d.role === 'kiosk' && !d.revoked_at);
    const used = new Map();
    for (const r of s.per_kiosk_day) {
      const u = used.get(r.kiosk) || { n: 0, none: 0 };
      u.n += r.face + r.qr + r.keypad + r.unresolved; u.none += r.unresolved;
      used.set(r.kiosk, u);
    }
    $('chart-kiosks').replaceChildren(C.horizontal(t('admin.stats.kiosks'), kiosks.map((k) => {
      const u = used.get(k.name) || { n: 0, none: 0 };
      return { label: k.name, value: u.n, text: `${u.n} · ${t('admin.stats.unresolved')} ${u.n ? Math.round((u.none / u.n) * 100) : 0}%` };
    })));
    table($('stats-kiosks-table'), [
      { h: 'admin.col.kiosk', v: (r) => r.name },
      { h: 'admin.col.last_frame', v: (r) => fmtTime(r.last_frame_at) },
      { h: 'admin.col.unreadable', v: (r) => r.unreadable_frames },
      { h: 'admin.col.last_seen', v: (r) => fmtTime(r.last_seen_at) },
    ], kiosks);
  }

  // An admin sees a full name on request; each reveal is audited.
  function revealButton(applicantId, cell) {
    return button('admin.reveal', 'small secondary', async () => {
      try {
        const r = await api('POST', `/api/v1/admin/applicants/${applicantId}/reveal`);
        cell.textContent = `#${applicantId} ${r.full_name}`;
      } catch (err) { show(err.message); }
    });
  }

  async function personDetail(id) {
    const p = await api('GET', `/api/v1/applicants/${id}`);
    const box = $('person-detail');
    box.replaceChildren();
    const h = document.createElement('h3');
    h.textContent = t('admin.person.title', { id });
    const facts = document.createElement('p');
    facts.textContent = t('admin.person.facts', {
      n: p.templates, active: p.templates_active, seen: fmtTime(p.last_recognised_at), profile: p.model_profile,
    });
    const div = document.createElement('div');
    table(div, [
      { h: 'admin.col.id', v: (r) => r.id },
      { h: 'admin.col.time', v: (r) => fmtTime(r.created_at) },
      { h: 'admin.col.enrolled_by', v: (r) => r.enrolled_by },
      { h: 'admin.col.quality', v: (r) => r.quality.toFixed(2) },
      { h: 'admin.col.profile', v: (r) => (r.model === p.model_profile ? t('admin.person.current') : t('admin.person.old')) },
    ], p.template_info, 'admin.person.none');
    box.append(h, facts, div);
    box.hidden = false;
  }

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
      $('stats-csv').href = `/api/v1/admin/stats?days=${s.days}&format=csv`;
      charts(s);
      table($('stats-days-table'), [
        { h: 'admin.col.day', v: (r) => r.day },
        { h: 'admin.col.kiosk', v: (r) => r.kiosk },
        { h: 'admin.stats.face', v: (r) => r.face },
        { h: 'admin.stats.qr', v: (r) => r.qr },
        { h: 'admin.stats.keypad', v: (r) => r.keypad },
        { h: 'admin.stats.unresolved', v: (r) => r.unresolved },
      ], s.per_kiosk_day.slice().reverse());
    },

    async consents(q) {
      const rows = await api('GET', `/api/v1/admin/consents${q ? `?q=${encodeURIComponent(q)}` : ''}`);
      $('person-detail').hidden = true;
      table($('consents-table'), [
        {
          h: 'admin.col.applicant',
          v: (r) => {
            const name = document.createElement('span');
            name.className = 'name';
            name.textContent = `#${r.applicant_id} ${r.display_name}`;
            return group(name, ' ', revealButton(r.applicant_id, name),
              button('admin.person.details', 'small secondary', () => personDetail(r.applicant_id).catch((err) => show(err.message))));
          },
        },
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
      if (!state.province) return;
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
        {
          h: 'admin.col.applicant',
          v: (r) => {
            if (!r.applicant_id) return '—';
            const name = document.createElement('span');
            name.textContent = `#${r.applicant_id}`;
            return group(name, ' ', revealButton(r.applicant_id, name));
          },
        },
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
      const [users, devices] = await Promise.all([api('GET', '/api/v1/admin/users'), api('GET', '/api/v1/admin/devices')]);
      const names = {
        users: new Map(users.map((u) => [u.id, u.display_name || u.username])),
        devices: new Map(devices.map((d) => [d.id, d.name])),
      };
      table($('audit-table'), [
        { h: 'admin.col.time', v: (r) => fmtTime(r.at) },
        { h: 'admin.col.event', v: (r) => window.HosoAudit.sentence(r, t, names) },
        { h: 'admin.col.detail', v: (r) => window.HosoAudit.raw(r, t) },
      ], rows);
    },

    async users() {
      const rows = await api('GET', '/api/v1/admin/users');
      table($('users-table'), [
        { h: 'login.username', v: (r) => r.username },
        { h: 'admin.users.display_name', v: (r) => r.display_name },
        { h: 'admin.col.role', v: (r) => t(`admin.role.${r.role}`) },
        ...(manyOffices() ? [{ h: 'admin.col.office', v: (r) => officeName(r.office_id) }] : []),
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
            // The name printed on receipts, typed in place.
            const rename = button('admin.users.rename', 'small secondary', () => {
              const input = document.createElement('input');
              input.maxLength = 100; input.value = r.display_name || ''; input.className = 'display-name';
              const save = button('admin.save', 'small', async () => {
                clearMsg();
                try { await api('POST', `/api/v1/admin/users/${r.id}`, { display_name: input.value }); show(t('admin.saved'), true); await loaders.users(); }
                catch (err) { show(err.message); }
              });
              g.replaceChildren(input, save);
              input.focus();
            });
            g.append(lock, reset, rename);
            return g;
          },
        },
      ], rows);
    },

    async devices() {
      const rows = await api('GET', '/api/v1/admin/devices');
      table($('devices-table'), [
        { h: 'admin.col.name', v: (r) => r.name },
        { h: 'admin.col.role', v: (r) => r.role === 'kiosk' ? 'Kiosk' : t('admin.role.integration') },
        ...(manyOffices() ? [{ h: 'admin.col.office', v: (r) => officeName(r.office_id) }] : []),
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
      // Three decimals are all a person can weigh; each value is also said in words.
      const round = (v) => (v === null || v === undefined ? '' : Number(v.toFixed(3)));
      f.kiosk_threshold.value = round(s.kiosk_threshold ?? s.calibrated_threshold);
      f.kiosk_margin.value = round(s.kiosk_margin ?? s.calibrated_margin);
      const words = () => {
        $('threshold-words').textContent = inWords(num(f.kiosk_threshold.value), s.calibrated_threshold, 'admin.settings.stricter', 'admin.settings.looser');
        $('margin-words').textContent = inWords(num(f.kiosk_margin.value), s.calibrated_margin, 'admin.settings.stricter', 'admin.settings.looser');
      };
      f.kiosk_threshold.oninput = words; f.kiosk_margin.oninput = words;
      words();
      $('calibrated').textContent = t('admin.settings.calibrated', {
        threshold: s.calibrated_threshold?.toFixed(3) ?? '—',
        margin: s.calibrated_margin?.toFixed(3) ?? '—',
      });
      $('off-calibration').hidden = !s.off_calibration;
      const k = s.kiosk_scale;
      $('kiosk-scale').textContent = k ? t('admin.settings.scale', {
        people: k.people,
        scope: t(`admin.settings.scope_${k.scope}`),
        accept: k.accept.toFixed(3),
        ask: k.ask.toFixed(3),
        fpir: (k.expected_fpir * 100).toFixed(3),
        target: (k.target_fpir * 100).toFixed(2),
        one_in: k.expected_fpir > 0 ? Math.round(1 / k.expected_fpir).toLocaleString(state.lang === 'vi' ? 'vi-VN' : 'en-GB') : '∞',
      }) : t('admin.settings.scale_none');
      const b = await api('GET', '/api/v1/admin/backups');
      table($('backups-table'), [
        { h: 'admin.col.file', v: (r) => r.file },
        { h: 'admin.col.time', v: (r) => fmtTime(r.at) },
        { h: 'admin.col.size', v: (r) => `${(r.bytes / 1048576).toFixed(2)} MiB` },
      ], b.backups);
    },
  };

  const num = (v) => (v === '' || v === undefined ? null : Number(v));

  // A setting against its calibrated value, in words.
  function inWords(v, calibrated, stricter, looser) {
    if (v === null || calibrated === null || calibrated === undefined) return '';
    const pct = Math.round(Math.abs(v - calibrated) / calibrated * 100);
    if (pct === 0) return t('admin.settings.at_calibration');
    return t(v > calibrated ? stricter : looser, { p: pct });
  }

  async function openTab(name) {
    state.tab = name;
    document.querySelectorAll('.tab').forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
    document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === name));
    clearMsg();
    try { await loaders[name](); } catch (err) { show(err.message); }
  }

  function loggedOut() {
    state.csrf = null;
    $('logout').hidden = true; $('tabs').hidden = true; $('office-label').hidden = true;
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
      await loadOffices();
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
    const f = officeField(e.target, Object.fromEntries(new FormData(e.target).entries()));
    if (!f.display_name) delete f.display_name;
    try { await api('POST', '/api/v1/admin/users', f); e.target.reset(); await loaders.users(); }
    catch (err) { show(err.message); }
  });

  $('device-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    try {
      const r = await api('POST', '/api/v1/admin/devices', officeField(e.target, Object.fromEntries(new FormData(e.target).entries())));
      const pre = $('device-token');
      if (r.setup_code) {
        // A kiosk gets a ready setup link and its QR code, never a bare token.
        const link = `${location.origin}/kiosk/#pair=${r.setup_code}`;
        $('device-link').href = link; $('device-link').textContent = link;
        $('device-command').textContent = `sudo hoso-kiosk-setup '${link}'`;
        $('device-qr').src = `/api/v1/admin/qr?text=${encodeURIComponent(link)}`;
        $('device-setup').hidden = false; pre.hidden = true;
      } else {
        pre.textContent = t('admin.devices.token', { token: r.token });
        pre.hidden = false; $('device-setup').hidden = true;
      }
      e.target.reset();
      await loaders.devices();
    } catch (err) { show(err.message); }
  });

  $('settings-form').addEventListener('submit', async (e) => {
    e.preventDefault(); clearMsg();
    const f = e.target;
    const s = state.settings || {};
    let threshold = num(f.kiosk_threshold.value);
    let margin = num(f.kiosk_margin.value);
    // Unchanged calibrated values stay "calibrated" (they follow a model update).
    if (s.kiosk_threshold === null && threshold !== null && Math.abs(threshold - s.calibrated_threshold) < 6e-4) threshold = null;
    if (s.kiosk_margin === null && margin !== null && Math.abs(margin - s.calibrated_margin) < 6e-4) margin = null;
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
