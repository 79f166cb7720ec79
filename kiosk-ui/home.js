// The service's start page: shows whether the service answers and, in demo mode, the
// links a newcomer needs (clerk desk, admin desk, the kiosk ready with its demo token, and
// sample dossiers to look up).
'use strict';
(async () => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, href) => { const e = document.createElement(tag); e.textContent = text; if (href) e.href = href; return e; };
  try {
    const h = await (await fetch('/healthz')).json();
    $('status').textContent = `Dịch vụ đang hoạt động (${h.embedders.join(' + ')}). / Service is running.`;
    if (!h.demo) return;
    const g = await (await fetch('/api/v1/demo')).json();
    const box = $('demo');
    const links = el('ul');
    const item = (label, href, note) => { const li = el('li'); li.append(el('a', label, href)); if (note) li.append(` — ${note}`); links.append(li); };
    item('Bàn tiếp nhận / Clerk desk', g.clerk, `clerk / ${g.accounts[0][1]}`);
    item('Quản trị / Admin desk', g.admin, `admin / ${g.accounts[0][1]}`);
    item('Kiosk tra cứu / Lobby kiosk', g.kiosk, 'sẵn sàng / ready');
    box.append(el('h2', 'Dùng thử / Try it'), links);
    box.append(el('p', 'Đăng ký chính mình ở bàn tiếp nhận bằng webcam, rồi đứng trước kiosk. / Enrol yourself at the clerk desk with your webcam, then stand in front of the kiosk.'));
    if (g.samples.length) {
      const ul = el('ul');
      for (const s of g.samples) {
        const li = el('li');
        li.append(el('a', s.code, s.status_page), ` — ${s.status} — 4 số cuối CCCD / ID digits: ${s.id_digits}`);
        ul.append(li);
      }
      box.append(el('h2', 'Hồ sơ mẫu / Sample dossiers'), ul);
    }
    box.hidden = false;
  } catch (_) {
    $('status').textContent = 'Không kết nối được dịch vụ. / Service unreachable.';
  }
})();
