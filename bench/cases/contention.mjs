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
// The summary table is another shape: its variants are thread counts and series
// (mixThreads: they run interleaved in one group, so the ratios are same-run), all with
// default options but one `striped: false` row, every thread observing the same value:
// the worst case, where every observation of every thread lands in the same bucket of
// the same time slice (without caches in its stripes, a contended summary shared that
// word still). ns/op is the aggregate figure (a round's wall time over every thread's
// operations): 2 workers on two series, which share nothing, show what 2 workers cost
// when nothing is contended (about half the 1-worker figure on 2 free CPUs); 2 workers on
// one series show what contention still costs on top of that, and `striped: false` what
// it cost without stripes.
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
const SUM = 'contention: summary child observe(v), every thread the same value (information: 2 workers on one series vs on two)';

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

// The summary's variants: [key, label, threads, one series for every thread, options].
const SUMMARY = [
  ['one', '1 worker', 1, true, {}],
  ['apart', '2 workers, each its own series (nothing shared)', 2, false, {}],
  ['shared', '2 workers on one series (contended)', 2, true, {}],
  ['unstriped', '2 workers on one series, striped: false', 2, true, { striped: false }],
];

export const cases = [
  ...TABLES.flatMap((t) =>
    t.variants.map((v) => ({
      id: `contention/${t.key}/${v}`,
      table: t.table,
      variant: VARIANT[v],
      threads: [t.threads],
      ...(v === t.baseline ? { baseline: true } : {}),
    })),
  ),
  ...SUMMARY.map(([key, variant, threads]) => ({
    id: `contention/sum/${key}`,
    table: SUM,
    variant,
    threads: [threads],
    mixThreads: true,
    ...(key === 'apart' ? { baseline: true } : {}),
  })),
];

const LABELS = { k: 'x' };
// Dyadic values (exact in binary, so any order of adding them gives the same sum), one in
// each of 8 regions of the default buckets, the last above every bound (+Inf only).
export const VALUES = [0.001953125, 0.015625, 0.03125, 0.0625, 0.375, 0.75, 1.5, 16];
const DEFAULT_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// What every thread observes in the summary table: dyadic, so the sum is exact in any order.
const SUM_VALUE = 0.375;

function parse(id) {
  const [, key, variant] = id.split('/');
  if (key === 'sum') {
    const v = SUMMARY.find((x) => x[0] === variant);
    if (!v) throw new Error(`contention: unknown case ${id}`);
    return { kind: 'summary', options: v[4], own: !v[3] };
  }
  const t = TABLES.find((x) => x.key === key);
  if (!t || !t.variants.includes(variant)) throw new Error(`contention: unknown case ${id}`);
  return { kind: t.kind, options: OPTIONS[variant], own: OWN.has(variant) };
}

function open(registry, kind, options) {
  if (kind === 'counter') return registry.counter({ name: 'bench_contended_total', help: 'Contended.', labelNames: ['k'], ...options });
  if (kind === 'summary') return registry.summary({ name: 'bench_contended_summary_seconds', help: 'Contended.', labelNames: ['k'], ...options });
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
  if (kind === 'summary') {
    return {
      run(n) {
        for (let i = 0; i < n; i++) child.observe(SUM_VALUE);
      },
    };
  }
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
  if (kind === 'summary') {
    // Every series' count and sum, added up; each series' percentiles are the value's bucket.
    const of = (suffix) => got.values.filter((v) => v.metricName?.endsWith(suffix));
    fail('the count', of('_count').reduce((a, v) => a + v.value, 0), totalOps);
    fail('the sum', of('_sum').reduce((a, v) => a + v.value, 0), totalOps * SUM_VALUE);
    const p = got.values.filter((v) => v.metricName === undefined).map((v) => v.value);
    fail('the percentiles that differ', new Set(p).size, 1);
    if (Math.abs(p[0] - SUM_VALUE) > SUM_VALUE * 0.0433) throw new Error(`${id}: a percentile is ${p[0]}, expected about ${SUM_VALUE}`);
    seriesBytes.set(id, registry.usage().usedBytes - data.before);
    return;
  }
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
  const sum = (v) => ns('sum', v);
  if (sum('shared') !== undefined && sum('apart') !== undefined) {
    const value = sum('shared') / sum('apart');
    out.push({ name: 'summary child observe(v), 2 workers on one series vs on two series (the same value)', target: 'info', measured: fmt(value), value, pass: true });
  }
  if (sum('shared') !== undefined && sum('unstriped') !== undefined) {
    const value = sum('shared') / sum('unstriped');
    out.push({ name: 'summary child observe(v), 2 workers on one series: default vs striped: false', target: 'info', measured: fmt(value), value, pass: true });
  }
  const sb = SUMMARY.map(([v]) => seriesBytes.get(`contention/sum/${v}`));
  if (sb.every((b) => b !== undefined)) {
    out.push({ name: `shared bytes after the run, summary (${SUMMARY.map((x) => x[1]).join(' / ')})`, target: 'info', measured: sb.map((b) => `${b} B`).join(' / '), pass: true });
  }
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
