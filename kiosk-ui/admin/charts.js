// Plain SVG charts for the admin's statistics (no library, nothing fetched from outside):
// stacked bars (look-ups per day by method), bars of a share (on time per week) and
// horizontal bars (ratings, kiosk health). Each chart is an <svg role="img"> with a title.
'use strict';
window.HosoCharts = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1b7f3b', '#13315c', '#e0a100', '#a4161a', '#5c677d'];

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function frame(title, width, height) {
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': title, class: 'chart' });
    svg.append(el('title', {}, title));
    return svg;
  }

  function legend(svg, names, x, y) {
    names.forEach((n, i) => {
      svg.append(el('rect', { x: x + i * 150, y, width: 12, height: 12, fill: COLORS[i] }));
      svg.append(el('text', { x: x + i * 150 + 16, y: y + 11, 'font-size': 12 }, n));
    });
  }

  // rows: [{label, values: [n…]}]; series: names of the values (stacked).
  function stacked(title, rows, series) {
    const W = 900; const H = 260; const left = 40; const bottom = 40; const top = 28;
    const svg = frame(title, W, H);
    legend(svg, series, left, 4);
    const max = Math.max(1, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0)));
    const slot = (W - left - 10) / Math.max(rows.length, 1);
    const bar = Math.max(2, Math.min(40, slot * 0.7));
    const scale = (H - top - bottom) / max;
    svg.append(el('line', { x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: '#9aa5b1' }));
    svg.append(el('text', { x: left - 6, y: top + 10, 'text-anchor': 'end', 'font-size': 11 }, String(max)));
    rows.forEach((r, i) => {
      let y = H - bottom;
      const x = left + i * slot + (slot - bar) / 2;
      r.values.forEach((v, k) => {
        if (!v) return;
        const h = v * scale;
        y -= h;
        const rect = el('rect', { x, y, width: bar, height: h, fill: COLORS[k], 'data-series': series[k] });
        rect.append(el('title', {}, `${r.label} · ${series[k]}: ${v}`));
        svg.append(rect);
      });
      if (rows.length <= 16 || i % Math.ceil(rows.length / 16) === 0) {
        svg.append(el('text', { x: x + bar / 2, y: H - bottom + 16, 'text-anchor': 'middle', 'font-size': 11 }, r.label));
      }
    });
    return svg;
  }

  // rows: [{label, share (0–1) | null, note}]: one bar per row, 0–100 %.
  function shares(title, rows) {
    const W = 900; const H = 220; const left = 40; const bottom = 40; const top = 12;
    const svg = frame(title, W, H);
    const slot = (W - left - 10) / Math.max(rows.length, 1);
    const bar = Math.max(4, Math.min(60, slot * 0.6));
    const scale = H - top - bottom;
    svg.append(el('line', { x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: '#9aa5b1' }));
    svg.append(el('text', { x: left - 6, y: top + 10, 'text-anchor': 'end', 'font-size': 11 }, '100%'));
    rows.forEach((r, i) => {
      const x = left + i * slot + (slot - bar) / 2;
      const h = (r.share || 0) * scale;
      const rect = el('rect', { x, y: H - bottom - h, width: bar, height: h, fill: COLORS[0] });
      rect.append(el('title', {}, `${r.label}: ${r.share === null ? '—' : `${Math.round(r.share * 100)} %`} ${r.note || ''}`));
      svg.append(rect);
      svg.append(el('text', { x: x + bar / 2, y: H - bottom - h - 4, 'text-anchor': 'middle', 'font-size': 11 }, r.share === null ? '—' : `${Math.round(r.share * 100)}%`));
      svg.append(el('text', { x: x + bar / 2, y: H - bottom + 16, 'text-anchor': 'middle', 'font-size': 11 }, r.label));
    });
    return svg;
  }

  // rows: [{label, value, text}]: horizontal bars scaled to the largest value.
  function horizontal(title, rows, color) {
    const W = 900; const row = 26; const left = 170; const H = Math.max(1, rows.length) * row + 10;
    const svg = frame(title, W, H);
    const max = Math.max(1e-9, ...rows.map((r) => r.value));
    rows.forEach((r, i) => {
      const y = 5 + i * row;
      svg.append(el('text', { x: left - 8, y: y + 16, 'text-anchor': 'end', 'font-size': 13 }, r.label));
      const w = (r.value / max) * (W - left - 330);
      svg.append(el('rect', { x: left, y: y + 3, width: Math.max(w, 1), height: row - 8, fill: color || COLORS[1] }));
      svg.append(el('text', { x: left + w + 8, y: y + 16, 'font-size': 13 }, r.text ?? String(r.value)));
    });
    return svg;
  }

  return { stacked, shares, horizontal };
})();
