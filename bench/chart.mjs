// Draws a bench run as an SVG: one panel per table, one bar per variant and thread
// count, length = ns/op (median over the repetitions), whisker = min..max. Plain SVG, no
// dependencies, so the chart is redrawn with the numbers the tables show.
// `node bench/chart.mjs [path/to/NAME.json]` redraws docs/bench.svg from saved JSON.
import { writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readRun, runtimeLabel } from './report.mjs';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 1040;
const LABEL = 420;
const BAR_H = 14;
const GAP = 4;
const colors = { 1: '#4e79a7', 2: '#f28e2b', 3: '#59a14f', 4: '#e15759' };

export function renderSvg(run) {
  const byTable = new Map();
  for (const g of run.groups) {
    if (!byTable.has(g.table)) byTable.set(g.table, []);
    byTable.get(g.table).push(g);
  }
  let y = 40;
  const parts = [];
  for (const [table, groups] of byTable) {
    const variants = [...new Set(groups.flatMap((g) => g.variants.map((v) => v.variant)))];
    const max = Math.max(...groups.flatMap((g) => g.variants.map((v) => v.ns.max)).filter(Number.isFinite));
    const scale = (W - LABEL - 90) / max;
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(table)} — ns/op, lower is faster</text>`);
    y += 10;
    for (const name of variants) {
      const blockH = groups.length * (BAR_H + 2);
      parts.push(`<text x="${LABEL - 8}" y="${y + blockH / 2 + 4}" text-anchor="end">${esc(name)}</text>`);
      for (const g of groups) {
        const v = g.variants.find((x) => x.variant === name);
        if (v && v.ns.n) {
          const w = Math.max(1, v.ns.median * scale);
          parts.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${colors[v.threads ?? g.threads] ?? '#999'}"/>`);
          parts.push(`<line x1="${(LABEL + v.ns.min * scale).toFixed(1)}" x2="${(LABEL + v.ns.max * scale).toFixed(1)}" y1="${y + BAR_H / 2}" y2="${y + BAR_H / 2}" stroke="#222"/>`);
          parts.push(`<text x="${(LABEL + Math.max(w, v.ns.max * scale) + 6).toFixed(1)}" y="${y + BAR_H - 3}" font-size="11">${v.ns.median.toFixed(1)}</text>`);
        }
        y += BAR_H + 2;
      }
      y += GAP;
    }
    y += 24;
  }
  const threads = new Set(run.groups.flatMap((g) => g.variants.map((v) => v.threads ?? g.threads)));
  const legend = Object.entries(colors)
    .filter(([t]) => threads.has(Number(t)))
    .map(([t, c], i) => `<rect x="${LABEL + i * 110}" y="12" width="12" height="12" fill="${c}"/><text x="${LABEL + i * 110 + 16}" y="22">${t} thread${t === '1' ? '' : 's'}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="11" fill="#555">${esc(run.date.slice(0, 10))}, ${esc(runtimeLabel(run))}, ${run.cpus} CPUs; bar = median, whisker = min–max of ${run.options.reps} repetitions</text>
${legend}
${parts.join('\n')}
</svg>
`;
}

export function drawChart(run, url) {
  mkdirSync(new URL('./', url), { recursive: true });
  writeFileSync(url, renderSvg(run));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const run = readRun(process.argv[2] ? pathToFileURL(resolve(process.argv[2])) : new URL('./results/latest.json', import.meta.url));
  drawChart(run, new URL('../docs/bench.svg', import.meta.url));
  console.log('wrote docs/bench.svg');
}
