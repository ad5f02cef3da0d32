// Renders a bench run (bench/results/latest.json) as text and as Markdown tables.
// Ratios compare variants of one table at the same thread count, measured in the same
// run: ratio = this variant's ns/op / the baseline variant's ns/op (lower is faster).
import { readFileSync, writeFileSync } from 'node:fs';

function tables(run) {
  const byTable = new Map();
  for (const r of run.results) {
    if (!byTable.has(r.table)) byTable.set(r.table, []);
    byTable.get(r.table).push(r);
  }
  return [...byTable].map(([name, rows]) => {
    const threads = [...new Set(rows.map((r) => r.threads))].sort((a, b) => a - b);
    const variants = [...new Set(rows.map((r) => r.variant))];
    const base = rows.find((r) => r.baseline)?.variant;
    const cell = (v, t) => rows.find((r) => r.variant === v && r.threads === t);
    const lines = variants.map((v) => {
      const cols = threads.map((t) => {
        const r = cell(v, t);
        if (!r) return ['', ''];
        const b = base && cell(base, t);
        const spread = `${r.p25.toFixed(1)}–${r.p75.toFixed(1)}`;
        return [`${r.median.toFixed(1)} (${spread})`, b ? `${(r.median / b.median).toFixed(2)}×` : ''];
      });
      return [v + (v === base ? ' (baseline)' : ''), ...cols.flat()];
    });
    const header = ['variant', ...threads.flatMap((t) => [`${t} thr ns/op (p25–p75)`, `vs baseline`])];
    return { name, header, lines };
  });
}

export function renderText(run) {
  const out = [];
  for (const t of tables(run)) {
    const all = [t.header, ...t.lines];
    const widths = t.header.map((_, i) => Math.max(...all.map((l) => String(l[i] ?? '').length)));
    out.push(`== ${t.name}`);
    for (const l of all) out.push(l.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  '));
    out.push('');
  }
  if (run.targets?.length) {
    out.push('== targets');
    for (const c of run.targets) out.push(`${c.pass ? 'MET   ' : 'MISSED'} ${c.name}: ${c.measured} (target ${c.target})`);
  }
  return out.join('\n');
}

export function renderMarkdown(run) {
  const out = [
    `Run ${run.date.slice(0, 10)}, Node ${run.node}, ${run.cpus} × ${run.cpu}; medians of ${run.options.rounds} rounds (threads cases) or tinybench samples, ns per operation, p25–p75 in brackets; ratios are against the table's baseline in the same run (lower is faster).`,
    '',
  ];
  for (const t of tables(run)) {
    out.push(`**${t.name}**`, '');
    out.push(`| ${t.header.join(' | ')} |`);
    out.push(`|${t.header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const l of t.lines) out.push(`| ${l.join(' | ')} |`);
    out.push('');
  }
  if (run.targets?.length) {
    out.push('**Targets**', '', '| target | measured | required | |', '|---|---:|---:|---|');
    for (const c of run.targets) out.push(`| ${c.name} | ${c.measured} | ${c.target} | ${c.pass ? 'met' : '**missed**'} |`);
    out.push('');
  }
  return out.join('\n');
}

// `node bench/report.mjs` re-renders the Markdown from the saved JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const run = JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8'));
  writeFileSync(new URL('./results/latest.md', import.meta.url), renderMarkdown(run));
  console.log(renderText(run));
}
