// Hot paths of two builds side by side: this checkout against another commit (default:
// HEAD~1), in the same run. Answers "did this change slow a hot path?" with same-run
// ratios: every repetition runs each case once per build, in fresh processes, in
// alternating order, and the ratio is taken within the repetition.
//
//   node bench/compare.mjs [ref] [--reps N] [--backend auto|wasm|js] [--only TEXT]
//
// --only keeps the cases whose name contains TEXT (a narrow run on a shared machine).
//
// The other build is made in a temporary git worktree (node_modules linked, `npm run
// build`), so both builds are compiled by the same toolchain. Run `npm run build` first
// for this checkout's dist/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const ref = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'HEAD~1';
const reps = Number(opt('--reps', '7'));
const backend = opt('--backend', undefined);
const only = opt('--only', undefined);

// Each case: a setup returning a function that does `n` operations.
const CASES = {
  'Counter.inc (striped)': `const r = S.StatsRegistry.create(o); const c = r.counters('s', ['a'], { striped: true }).counter('a');
    return (n) => { for (let i = 0; i < n; i++) c.inc(); };`,
  'Counter.inc (one shared cell)': `const r = S.StatsRegistry.create(o); const c = r.counters('p', ['a']).counter('a');
    return (n) => { for (let i = 0; i < n; i++) c.inc(); };`,
  'StepExecutionStats.recordSuccess': `const r = S.StatsRegistry.create(o); const s = r.stepExecutionStats('st');
    return (n) => { for (let i = 0; i < n; i++) s.recordSuccess(3); };`,
  'publish, stats on (1 handler)': `const r = S.StatsRegistry.create(o); const b = new S.InProcessEventBus({ registry: r, name: 'b' }); b.subscribe('order.*', () => {});
    const ev = { event_name: 'order.placed', event_id: 'x' }; return (n) => { for (let i = 0; i < n; i++) b.publish(ev); };`,
  'publish, stats off (1 handler)': `const r = S.StatsRegistry.create(o); const b = new S.InProcessEventBus({ registry: r, name: 'b', recordStats: false }); b.subscribe('order.*', () => {});
    const ev = { event_name: 'order.placed', event_id: 'x' }; return (n) => { for (let i = 0; i < n; i++) b.publish(ev); };`,
  'breaker guard (tryAcquire + recordSuccess)': `const r = S.StatsRegistry.create(o); const cb = r.circuitBreaker('cb');
    return (n) => { for (let i = 0; i < n; i++) if (cb.tryAcquire()) cb.recordSuccess(100); };`,
  'labelled child inc() (cached, striped)': `const r = S.StatsRegistry.create(o); const m = r.counter({ name: 'req_total', help: 'h', labelNames: ['route'], striped: true });
    const c = m.labels({ route: '/a' }); return (n) => { for (let i = 0; i < n; i++) c.inc(); };`,
  'labelled child inc() (cached, unstriped)': `const r = S.StatsRegistry.create(o); const m = r.counter({ name: 'req_total', help: 'h', labelNames: ['route'] });
    const c = m.labels({ route: '/a' }); return (n) => { for (let i = 0; i < n; i++) c.inc(); };`,
  'inc(labels) (series cached)': `const r = S.StatsRegistry.create(o); const m = r.counter({ name: 'req_total', help: 'h', labelNames: ['route', 'code'] });
    const l = { route: '/a', code: '200' }; return (n) => { for (let i = 0; i < n; i++) m.inc(l); };`,
  'histogram child observe() (striped)': `const r = S.StatsRegistry.create(o); const h = r.histogram({ name: 'lat_seconds', help: 'h', labelNames: ['route'], striped: true });
    const c = h.labels({ route: '/a' }); return (n) => { for (let i = 0; i < n; i++) c.observe(0.042); };`,
  'histogram observe(labels, v) (series cached)': `const r = S.StatsRegistry.create(o); const h = r.histogram({ name: 'lat_seconds', help: 'h', labelNames: ['route'] });
    const l = { route: '/a' }; return (n) => { for (let i = 0; i < n; i++) h.observe(l, 0.042); };`,
};

if (only !== undefined) for (const k of Object.keys(CASES)) if (!k.includes(only)) delete CASES[k];
if (Object.keys(CASES).length === 0) throw new Error(`no case matches --only ${only}`);

// One process: warm up, size rounds to >= 20 ms, report the median ns/op of 9 rounds.
const CHILD = `
const [dist, name, backend] = process.argv.slice(1);
const S = await import(dist);
const o = backend ? { backend } : {};
const run = (function () { ${'${body}'} })();
let n = 1000;
const t = (k) => { const t0 = process.hrtime.bigint(); run(k); return Number(process.hrtime.bigint() - t0); };
for (const end = Date.now() + 300; Date.now() < end; ) run(n);
while (t(n) < 20e6) n *= 2;
const xs = [];
for (let i = 0; i < 9; i++) xs.push(t(n) / n);
xs.sort((a, b) => a - b);
console.log(xs[4]);
`;

function buildOther() {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-compare-'));
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'ignore' });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'ignore' });
  return dir;
}

function measure(dist, name) {
  const body = CASES[name];
  const script = CHILD.replace('${body}', body);
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script, pathToFileURL(join(dist, 'dist/index.js')).href, name, backend ?? ''], {
    encoding: 'utf8',
  });
  if (p.status !== 0) return NaN; // a case the other build cannot run (an API it lacks)
  return Number(p.stdout.trim());
}

if (!existsSync(join(root, 'dist/index.js'))) throw new Error('run `npm run build` first');
const other = buildOther();
try {
  const ratios = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
  const ns = Object.fromEntries(Object.keys(CASES).map((k) => [k, { here: [], there: [] }]));
  for (let rep = 0; rep < reps; rep++) {
    for (const name of Object.keys(CASES)) {
      const order = rep % 2 === 0 ? ['here', 'there'] : ['there', 'here'];
      const got = {};
      for (const side of order) got[side] = measure(side === 'here' ? root : other, name);
      ns[name].here.push(got.here);
      ns[name].there.push(got.there);
      ratios[name].push(got.here / got.there);
    }
  }
  const med = (v) => v.slice().sort((a, b) => a - b)[v.length >> 1];
  console.log(`this checkout vs ${ref} (${execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim()}), backend ${backend ?? 'default'}, ${reps} repetitions`);
  console.log('| case | here ns/op | there ns/op | here / there: min | median | max |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(CASES)) {
    const r = ratios[name].filter(Number.isFinite).sort((a, b) => a - b);
    if (r.length === 0) {
      console.log(`| ${name} | ${med(ns[name].here).toFixed(1)} | n/a | | | |`);
      continue;
    }
    console.log(`| ${name} | ${med(ns[name].here).toFixed(1)} | ${med(ns[name].there).toFixed(1)} | ${r[0].toFixed(2)} | ${med(r).toFixed(2)} | ${r.at(-1).toFixed(2)} |`);
  }
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', other], { cwd: root, stdio: 'ignore' });
  rmSync(other, { recursive: true, force: true });
}
