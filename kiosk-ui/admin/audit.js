// The audit log as sentences: each entry's action code becomes a sentence of the page's
// language ("audit.<code>" in the locale files) naming who (account or kiosk by name) and
// what (a person by number, a dossier by code); the raw entry stays one click away.
'use strict';
window.HosoAudit = (() => {
  // names: { users: Map(id → name), devices: Map(id → name) }
  function who(actor, t, names) {
    const [kind, id] = actor.split(':');
    if (kind === 'user') return names.users.get(Number(id)) || t('audit.who.user', { id });
    if (kind === 'device') return names.devices.get(Number(id)) || t('audit.who.device', { id });
    const known = { cli: 'audit.who.cli', demo: 'audit.who.demo', restore: 'audit.who.restore' }[kind];
    return known ? t(known) : actor;
  }

  function what(subject, t, names) {
    if (!subject) return '';
    const [kind, id] = subject.split(':');
    if (kind === 'applicant') return t('audit.what.applicant', { id });
    if (kind === 'user') return names.users.get(Number(id)) || t('audit.who.user', { id });
    if (kind === 'device') return names.devices.get(Number(id)) || t('audit.who.device', { id });
    if (kind === 'request') return t('audit.what.request', { id });
    return subject;
  }

  function sentence(e, t, names) {
    const vars = { who: who(e.actor, t, names), what: what(e.subject, t, names) };
    const key = `audit.${e.action}`;
    const s = t(key, vars);
    return s === key ? t('audit.other', { ...vars, action: e.action }) : s;
  }

  // The raw entry, on demand.
  function raw(e, t) {
    const d = document.createElement('details');
    const s = document.createElement('summary');
    s.textContent = t('audit.raw');
    const pre = document.createElement('pre');
    let detail = e.detail;
    try { detail = JSON.stringify(JSON.parse(e.detail), null, 1); } catch (_) { /* as stored */ }
    pre.textContent = `#${e.id} ${e.action}\n${e.actor} → ${e.subject || '—'}\n${detail}`;
    d.append(s, pre);
    return d;
  }

  return { sentence, raw };
})();
