// Contention on one labelled series: what a bound child's inc() (a counter's, a gauge's)
// and a histogram child's observe(v) cost when two worker threads write the same series
// at once, and when one thread writes it alone, for the ways a metric can be configured:
//
//   default ({})       `striped` omitted: whatever the package does by default
//   striped: false     every thread adds to the series' one shared cell (or cell per bucket)
//   striped: true      every thread writes its own stripe, a read sums them
//
// A gauge has no `striped: true` (its set replaces the value), so the gauge's 2-worker
// table compares with what a stripe per thread would at best cost a gauge: each worker
// adding to a series of its own (default options), the same compare-and-swap add on a
// cell no other thread writes. Its target is the counter's: the default within 1.5× of
// that contention-free figure.
//
// The variants name options, not behaviours, so the tables measure whatever the default
// is in the build they run on: with a default that stripes a series once it sees
// contention, the default's 2-thread figure should approach the striped one, and its
// 1-thread figure stay at the unstriped one. Each table's name states its target and its
// baseline is the variant the target compares with, so "vs baseline" is the target ratio;
// targets() turns the same per-repetition ratios into verdicts.
//
// Every variant has its own registry (default options, default backend 'auto'). Its
// default stripe count (at least 8) leaves an owned stripe for every attachment a variant
// makes (the harness thread's, each worker's, verify()'s), so no striped write falls back
// to the shared stripe. setup() creates the series before any worker starts, and each
// worker binds its child once (`labels({ k: 'x' })`) in prepare(), so the timed loop is
// the bare call, 1,000 a chunk. The 2-thread rounds start behind the harness's barrier
// and count only when the threads overlapped (harness/group.mjs): that overlap is the
// contention being measured.
//
// verify() requires the exact final state: the counter's one series equals the operations
// run; the histogram's count does too, and so do every bucket and the sum, which are
// exact because each chunk observes each of 8 dyadic values (exact in binary) equally
// often. It also records how many shared bytes the series holds after the run (usage()),
// shown as information rows: a series that inflated into stripes shows it there.
import { StatsRegistry } from '../../dist/index.js';

const INC2 = 'contention: bound child inc(), 2 workers on one series (target: default ≤ 1.5× striped: true)';
const INC1 = 'contention: bound child inc(), 1 worker, uncontended (target: default ≤ 1.1× striped: false)';
const OBS2 = 'contention: histogram child observe(v), 2 workers on one series (target: default ≤ 1.5× striped: true)';
const GINC2 = 'contention: gauge child inc(), 2 workers on one series (target: default ≤ 1.5× a series per worker)';
const GINC1 = 'contention: gauge child inc(), 1 worker, uncontended (target: default ≤ 1.1× striped: false)';

/** The options of each variant: `{}` omits `striped`, so it gets the package's default. */
const OPTIONS = {
  default: {},
  unstriped: { striped: false },
  striped: { striped: true },
  own: {},
};
const VARIANT = {
  default: 'default options ({})',
  unstriped: 'striped: false (one shared cell)',
  striped: 'striped: true (a stripe per thread)',
  own: 'default options, a series per worker (no contention)',
};
// The variants whose workers each write a series of their own (LABELS + the worker's index).
const OWN = new Set(['own']);

const ALL = ['default', 'unstriped', 'striped'];
const GAUGE = ['default', 'unstriped', 'own'];
const TABLES = [
  { key: 'inc2', table: INC2, kind: 'counter', threads: 2, variants: ALL, baseline: 'striped' },
  { key: 'inc1', table: INC1, kind: 'counter', threads: 1, variants: ALL, baseline: 'unstriped' },
  { key: 'obs2', table: OBS2, kind: 'histogram', threads: 2, variants: ALL, baseline: 'striped' },
  { key: 'ginc2', table: GINC2, kind: 'gauge', threads: 2, variants: GAUGE, baseline: 'own' },
  { key: 'ginc1', table: GINC1, kind: 'gauge', threads: 1, variants: ['default', 'unstriped'], baseline: 'unstriped' },
];

export const cases = TABLES.flatMap((t) =>
  t.variants.map((v) => ({
    id: `contention/${t.key}/${v}`,
    table: t.table,
    variant: VARIANT[v],
    threads: [t.threads],
    ...(v === t.baseline ? { baseline: true } : {}),
  })),
);

const LABELS = { k: 'x' };
// Dyadic values (exact in binary, so any order of adding them gives the same sum), one in
// each of 8 regions of the default buckets, the last above every bound (+Inf only).
export const VALUES = [0.001953125, 0.015625, 0.03125, 0.0625, 0.375, 0.75, 1.5, 16];
const DEFAULT_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function parse(id) {
  const [, key, variant] = id.split('/');
  const t = TABLES.find((x) => x.key === key);
  if (!t || !t.variants.includes(variant)) throw new Error(`contention: unknown case ${id}`);
  return { kind: t.kind, options: OPTIONS[variant], own: OWN.has(variant) };
}

function open(registry, kind, options) {
  if (kind === 'counter') return registry.counter({ name: 'bench_contended_total', help: 'Contended.', labelNames: ['k'], ...options });
  if (kind === 'gauge') return registry.gauge({ name: 'bench_contended', help: 'Contended.', labelNames: ['k'], ...options });
  return registry.histogram({ name: 'bench_contended_seconds', help: 'Contended.', labelNames: ['k'], ...options });
}

// The labels worker `index` writes: the one series, or with a series per worker its own.
const labelsOf = (own, index) => (own ? { k: `${LABELS.k}${index}` } : LABELS);

export async function setup(id, threads = 1) {
  const { kind, options, own } = parse(id);
  const registry = StatsRegistry.create();
  const metric = open(registry, kind, options);
  const before = registry.usage().usedBytes;
  for (let i = 0; i < (own ? threads : 1); i++) metric.labels(labelsOf(own, i));
  return { handle: registry.handle, before };
}

/** The case's series (worker `index`'s own, with a series per worker), bound in a new attachment of the variant's registry, as a worker binds it. */
export function bind(id, data, index = 0) {
  const { kind, options, own } = parse(id);
  return open(StatsRegistry.attach(data.handle), kind, options).labels(labelsOf(own, index));
}

export async function prepare(id, data, index = 0) {
  const { kind } = parse(id);
  const child = bind(id, data, index);
  if (kind !== 'histogram') {
    return {
      run(n) {
        for (let i = 0; i < n; i++) child.inc();
      },
    };
  }
  return {
    run(n) {
      for (let i = 0; i < n; i++) child.observe(VALUES[i & 7]);
    },
  };
}

/** Shared bytes of each variant's series after its run (from verify()), for targets(). */
const seriesBytes = new Map();

export async function verify(id, data, totalOps) {
  const { kind, options, own } = parse(id);
  const registry = StatsRegistry.attach(data.handle);
  const got = await open(registry, kind, options).get();
  const fail = (what, value, want) => {
    if (value !== want) throw new Error(`${id}: ${what} is ${value}, expected ${want}`);
  };
  const mine = got.values.filter((v) => (own ? v.labels.k.startsWith(LABELS.k) : v.labels.k === LABELS.k));
  fail('the number of values of other series', got.values.length - mine.length, 0);
  if (kind !== 'histogram') {
    // A series per worker: the operations are their sum (each worker's own is not known here).
    if (!own) fail('the number of series', mine.length, 1);
    fail('the count', mine.reduce((sum, v) => sum + Number(v.value), 0), totalOps);
  } else {
    // Each chunk (a multiple of 8 operations) observes each value equally often.
    fail('the operations modulo 8', totalOps % 8, 0);
    const each = totalOps / 8;
    const of = (suffix) => mine.filter((v) => v.metricName.endsWith(suffix));
    fail('the count', of('_count')[0]?.value, totalOps);
    fail('the sum', of('_sum')[0]?.value, each * VALUES.reduce((a, b) => a + b, 0));
    const buckets = of('_bucket');
    fail('the number of buckets', buckets.length, DEFAULT_BOUNDS.length + 1);
    for (const b of buckets) {
      const le = b.labels.le === '+Inf' ? Infinity : b.labels.le;
      fail(`bucket le=${b.labels.le}`, b.value, each * VALUES.filter((x) => x <= le).length);
    }
  }
  seriesBytes.set(id, registry.usage().usedBytes - data.before);
}

const fmt = (x) => `${x.toFixed(2)}×`;

export function targets(results) {
  const ns = (key, v) => results.find((r) => r.id === `contention/${key}/${v}`)?.median;
  const out = [];
  const ratio = (name, key, base, limit) => {
    const a = ns(key, 'default');
    const b = ns(key, base);
    if (a === undefined || b === undefined) return;
    const value = a / b;
    out.push({ name, target: `≤ ${limit.toFixed(2)}×`, measured: fmt(value), value, pass: value <= limit });
  };
  ratio('bound child inc(), 2 workers on one series: default vs striped: true', 'inc2', 'striped', 1.5);
  ratio('bound child inc(), 1 worker (uncontended): default vs striped: false', 'inc1', 'unstriped', 1.1);
  ratio('histogram child observe(v), 2 workers on one series: default vs striped: true', 'obs2', 'striped', 1.5);
  ratio('gauge child inc(), 2 workers on one series: default vs a series per worker', 'ginc2', 'own', 1.5);
  ratio('gauge child inc(), 1 worker (uncontended): default vs striped: false', 'ginc1', 'unstriped', 1.1);
  for (const t of TABLES) {
    const variants = t.variants.filter((v) => !OWN.has(v));
    const bytes = variants.map((v) => seriesBytes.get(`contention/${t.key}/${v}`));
    if (bytes.some((b) => b === undefined)) continue;
    const what = `${t.kind}, ${t.threads} worker${t.threads > 1 ? 's' : ''}`;
    const names = variants.map((v) => (v === 'default' ? 'default' : `striped: ${OPTIONS[v].striped}`)).join(' / ');
    out.push({ name: `shared bytes of the one series after the run, ${what} (${names})`, target: 'info', measured: bytes.map((b) => `${b} B`).join(' / '), pass: true });
  }
  return out;
}
