// npm run bench: runs every case module in bench/cases/, prints one table per
// comparison, checks the targets the case modules declare, and writes
// bench/results/latest.json (the README's tables and chart are made from it).
//
//   node bench/run.mjs [--only SUBSTRING] [--quick] [--rounds N] [--round-ms MS] [--no-write]
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { runThreadsCase } from './harness/threads.mjs';
import { runTinyCase } from './harness/tiny.mjs';
import { renderMarkdown, renderText } from './report.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = flag('--quick');
const opts = {
  warmup: quick ? 1 : 3,
  rounds: Number(value('--rounds', quick ? 5 : 15)),
  roundMs: Number(value('--round-ms', quick ? 5 : 20)),
  tinyMs: quick ? 300 : 1500,
};
const only = value('--only', '');

const casesDir = new URL('./cases/', import.meta.url);
const files = readdirSync(casesDir).filter((f) => f.endsWith('.mjs')).sort();
const results = [];
const checks = [];
const started = Date.now();
for (const f of files) {
  const file = new URL(f, casesDir).href;
  const mod = await import(file);
  const selected = mod.cases.filter((c) => c.id.includes(only) || c.table.includes(only));
  for (const c of selected) {
    for (const threads of c.threads ?? [1]) {
      const label = `${c.table} | ${c.variant} | ${threads} thread${threads > 1 ? 's' : ''}`;
      process.stdout.write(`${label} ... `);
      const r =
        c.kind === 'tinybench' ? await runTinyCase(file, mod, c, opts) : await runThreadsCase(file, mod, c, threads, opts);
      process.stdout.write(`${r.median.toFixed(2)} ns/op (p25 ${r.p25.toFixed(2)}, p75 ${r.p75.toFixed(2)})\n`);
      results.push({ id: c.id, table: c.table, variant: c.variant, baseline: c.baseline === true, kind: c.kind ?? 'threads', threads, ...r });
    }
  }
  if (mod.targets && !only) checks.push(...mod.targets(results));
}

const run = {
  date: new Date().toISOString(),
  seconds: Math.round((Date.now() - started) / 1000),
  node: process.version,
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  options: opts,
  results,
  targets: checks,
};
console.log('\n' + renderText(run));
if (!flag('--no-write') && !only && !quick) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(run, null, 2) + '\n');
  writeFileSync(new URL('./results/latest.md', import.meta.url), renderMarkdown(run));
  console.log('wrote bench/results/latest.json and bench/results/latest.md');
  await import('./publish.mjs');
}
