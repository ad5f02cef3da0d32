// The headline (physics) table on several runtimes, from one session: runs
// `bench/run.mjs --runtime R --only physics` for each runtime in turn (each writes
// bench/results/local/physics-R.{json,md}), then puts the ratios side by side in
// docs/benchmarks.md, between the bench:runtimes markers.
//
//   node bench/runtimes.mjs [--runtimes host,node22,node24,node26] [--quick] [--no-write]
//
// Runtimes: `host` (the Node running this) or those of test/runtimes/runtimes.json. The
// default is the Node versions the package supports. --quick is a smoke run (nothing
// goes into the docs); --no-write leaves the docs alone.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readRun, runtimeLabel } from './report.mjs';

const args = process.argv.slice(2);
const KNOWN = new Set(['--runtimes', '--quick', '--no-write']);
for (const a of args) if (a.startsWith('--') && !KNOWN.has(a)) throw new Error(`bench: unknown option ${a}`);
const i = args.indexOf('--runtimes');
const runtimes = i >= 0 ? (args[i + 1] ?? '').split(',').filter(Boolean) : ['host', 'node22', 'node24', 'node26'];
if (runtimes.length === 0) throw new Error('bench: --runtimes needs a list');
const quick = args.includes('--quick');

const runs = [];
for (const rt of runtimes) {
  const out = `${quick ? 'quick-' : ''}physics-${rt}`;
  const child = spawnSync(process.execPath, [fileURLToPath(new URL('./run.mjs', import.meta.url)), '--runtime', rt, '--only', 'physics', '--out', out, ...(quick ? ['--quick'] : [])], {
    stdio: 'inherit',
  });
  if (child.status !== 0) throw new Error(`bench: the physics table failed on ${rt} (exit code ${child.status})`);
  runs.push(readRun(new URL(`./results/local/${out}.json`, import.meta.url)));
}

/** The side-by-side table: each headline ratio (median, min–max over the repetitions) on each runtime. */
function sideBySide(list) {
  const f2 = (s) => (s && s.n ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : '');
  const f1 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const names = [...new Set(list.flatMap((r) => r.physics.map((p) => p.name)))];
  const head = `| operation vs its floor | ${list.map(runtimeLabel).join(' | ')} |`;
  const rows = [head, `|---|${list.map(() => '---:').join('|')}|`];
  for (const name of names) {
    const cells = list.map((r) => {
      const p = r.physics.find((x) => x.name === name);
      return p ? `${f2(p.ratio)}<br>${f1(p.opNs.median)} ns` : '';
    });
    rows.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  const first = list[0];
  const note = `Session ${first.date.slice(0, 16)}Z on ${first.cpus} × ${first.cpu}, one runtime after another${list.some((r) => r.quick) ? ' (QUICK smoke runs: not for publishing)' : ''}. Each cell: the operation's time over its floor's, median (min–max) over the repetitions of that runtime's run, then the operation's median ns/op.`;
  return `${note}\n\n${rows.join('\n')}`;
}

const table = sideBySide(runs);
console.log(`\n${table}`);
if (!quick && !args.includes('--no-write')) {
  const docs = new URL('../docs/benchmarks.md', import.meta.url);
  const text = readFileSync(docs, 'utf8');
  const [start, end] = ['<!-- bench:runtimes -->', '<!-- /bench:runtimes -->'];
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} / ${end} markers`);
  writeFileSync(docs, `${text.slice(0, a)}${start}\n${table}\n${text.slice(b)}`);
  console.log('updated docs/benchmarks.md (bench:runtimes)');
}
