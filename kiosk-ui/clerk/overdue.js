// Hồ Sơ intake desk: the office's overdue dossiers. For each, the office's apology and a
// new appointment in two taps ("Xin lỗi và hẹn lại" → "Ghi và in phiếu", the date
// proposed), then the printable apology letter (Phiếu xin lỗi và hẹn lại ngày trả kết
// quả). A dossier whose one new date passed too can only be reprinted and followed up.
'use strict';
(() => {
  const { ui, openPerson } = window.HosoClerk;
  const { $, t, show, clearMsg, api } = ui;
  let items = [];
  const day = (unix) => new Date(unix * 1000).toLocaleDateString('vi-VN', { day: '2-digit', month: '2-digit', year: 'numeric' });
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const letter = (code) => `/api/v1/dossiers/${encodeURIComponent(code)}/apology`;

  function render() {
    const list = $('overdue-list');
    list.replaceChildren();
    for (const d of items) {
      const li = el('li', 'overdue');
      li.dataset.code = d.code;
      li.append(el('span', null, `${d.code} · ${d.procedure} · ${d.applicant} · ${t('overdue.due', { at: day(d.due_at), n: d.days_late })}`));
      if (d.apologised) {
        li.append(el('span', 'warn', ` ${t('overdue.again')}`));
        const a = el('a', 'button secondary', t('overdue.reprint'));
        a.href = letter(d.code); a.target = '_blank';
        li.append(a);
      } else {
        const start = el('button', 'apologise', t('overdue.apologise'));
        start.type = 'button';
        const box = el('span', 'apology-form');
        box.hidden = true;
        const date = el('input'); date.type = 'date'; date.value = d.proposed; date.name = 'new_due_at';
        date.setAttribute('aria-label', t('overdue.new_due'));
        const reason = el('input'); reason.name = 'reason'; reason.maxLength = 300; reason.placeholder = t('overdue.reason');
        const save = el('button', 'save', t('overdue.save'));
        save.type = 'button';
        start.addEventListener('click', () => { box.hidden = false; start.hidden = true; save.focus(); });
        save.addEventListener('click', async () => {
          clearMsg();
          // The letter's tab opens within the tap (a pop-up opened later is blocked).
          const tab = window.open('about:blank', '_blank');
          try {
            await api('POST', letter(d.code), { new_due_at: date.value, reason: reason.value.trim() || null });
            if (tab) tab.location = letter(d.code);
            show(t('overdue.saved', { code: d.code, at: date.value.split('-').reverse().join('/') }), true);
            await refresh();
          } catch (err) { if (tab) tab.close(); show(err.message); }
        });
        box.append(date, reason, save);
        li.append(start, box);
      }
      const open = el('button', 'secondary', t('search.open'));
      open.type = 'button';
      open.addEventListener('click', () => openPerson(d.applicant_id).catch((err) => show(err.message)));
      li.append(open);
      list.append(li);
    }
    $('overdue-count').textContent = String(items.length);
    $('overdue-step').hidden = items.length === 0;
  }

  async function refresh() {
    try { items = await api('GET', '/api/v1/desk/overdue'); } catch (_) { items = []; }
    render();
  }

  window.HosoClerk.overdue = { refresh, render };
})();
