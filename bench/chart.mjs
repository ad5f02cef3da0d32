// Renders bench/results/latest.json as docs/bench.svg: one panel per table, one bar per
// variant and thread count, length = ns/op (median), whisker = p25..p75. Plain SVG, no
// dependencies, so the README's chart is regenerated with the numbers it shows.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';

const run = JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8'));
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const W = 1040;
const LABEL = 420;
const BAR_H = 14;
const GAP = 4;
const colors = { 1: '#4e79a7', 2: '#f28e2b', 3: '#59a14f', 4: '#e15759' };

const byTable = new Map();
for (const r of run.results) {
  if (!byTable.has(r.table)) byTable.set(r.table, []);
  byTable.get(r.table).push(r);
}

let y = 40;
const parts = [];
for (const [table, rows] of byTable) {
  const variants = [...new Set(rows.map((r) => r.variant))];
  const threads = [...new Set(rows.map((r) => r.threads))].sort((a, b) => a - b);
  const max = Math.max(...rows.map((r) => r.p75));
  const scale = (W - LABEL - 90) / max;
  parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(table)} — ns/op, lower is faster</text>`);
  y += 10;
  for (const v of variants) {
    const vr = rows.filter((r) => r.variant === v);
    const blockH = threads.length * (BAR_H + 2);
    parts.push(`<text x="${LABEL - 8}" y="${y + blockH / 2 + 4}" text-anchor="end">${esc(v)}</text>`);
    for (const t of threads) {
      const r = vr.find((x) => x.threads === t);
      if (r) {
        const w = Math.max(1, r.median * scale);
        parts.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${colors[t] ?? '#999'}"/>`);
        parts.push(`<line x1="${(LABEL + r.p25 * scale).toFixed(1)}" x2="${(LABEL + r.p75 * scale).toFixed(1)}" y1="${y + BAR_H / 2}" y2="${y + BAR_H / 2}" stroke="#222"/>`);
        parts.push(`<text x="${(LABEL + Math.max(w, r.p75 * scale) + 6).toFixed(1)}" y="${y + BAR_H - 3}" font-size="11">${r.median.toFixed(1)}</text>`);
      }
      y += BAR_H + 2;
    }
    y += GAP;
  }
  y += 24;
}
const legend = Object.entries(colors)
  .filter(([t]) => run.results.some((r) => r.threads === Number(t)))
  .map(([t, c], i) => `<rect x="${LABEL + i * 110}" y="12" width="12" height="12" fill="${c}"/><text x="${LABEL + i * 110 + 16}" y="22">${t} thread${t === '1' ? '' : 's'}</text>`)
  .join('');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="11" fill="#555">${esc(run.date.slice(0, 10))}, Node ${esc(run.node)}, ${run.cpus} CPUs</text>
${legend}
${parts.join('\n')}
</svg>
`;
mkdirSync(new URL('../docs/', import.meta.url), { recursive: true });
writeFileSync(new URL('../docs/bench.svg', import.meta.url), svg);
console.log(`wrote docs/bench.svg (${byTable.size} tables)`);
