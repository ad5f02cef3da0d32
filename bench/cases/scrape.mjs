// "scrape cost" rows of BENCH.md: one Prometheus scrape (`register.metrics()`, the text
// a scraper receives) of 1,000 and 10,000 counter series exported from shared memory by
// atomic-stats/prometheus, against prom-client's own counters holding the same series
// (same families, same label names and values, same numbers). One op is one whole scrape.
// verify() checks that the last scrape of every variant rendered every series with its
// value, so a variant that renders less cannot look fast.
//
// "scrape cost: 1k user metric families" rows: the same scrape of 1,000 families of the
// user's own metrics (registry.counter / gauge / histogram), a mix: 500 unlabelled gauges,
// 300 counters with two `route` series each, 200 unlabelled histograms with the default
// buckets; against prom-client's own Gauge, Counter and Histogram holding the same families
// and values. Each family is prepared once per record, like the built-in ones (a scrape
// used to re-open every family from its definition).
//
// "scrape fixed cost" rows: registry.collect() and a Prometheus scrape of an *empty*
// registry of 4 MiB, 64 MiB and 1 GiB capacity, side by side. Listings read the
// directory's published-records log (src/directory.ts), so these must cost the same
// whatever the capacity; a listing that walked every directory slot (one per KiB) would
// cost 16× more at 64 MiB and 256× more at 1 GiB.
import promClient from 'prom-client';
import { StatsRegistry } from '../../dist/index.js';
import { registerAtomicStats } from '../../dist/prometheus.js';

const FIELDS = 10; // series per family: a counter set's fields, a prom-client counter's label values
const fieldName = (j) => `f${j}`;

const sizes = [
  [1_000, '1k'],
  [10_000, '10k'],
];
export const cases = sizes.flatMap(([n, tag]) => [
  { id: `scrape/${tag}/prom-client`, table: `scrape cost: ${tag} counter series`, variant: 'prom-client register.metrics(), its own counters', threads: [1], kind: 'tinybench', chunk: 1, baseline: true },
  { id: `scrape/${tag}/atomic-stats`, table: `scrape cost: ${tag} counter series`, variant: 'atomic-stats/prometheus register.metrics(), from shared memory', threads: [1], kind: 'tinybench', chunk: 1 },
  { id: `scrape/${tag}/collect`, table: `scrape cost: ${tag} counter series`, variant: 'registry.collect() alone (the read of the shared memory)', threads: [1], kind: 'tinybench', chunk: 1 },
]);

const USER = 'scrape/1k-families/';
const USER_FAMILIES = 1_000;
// Series lines setup writes and countUserSeries checks: a gauge's one, a counter's two, a histogram's _count.
const USER_SERIES = 500 + 300 * 2 + 200;
const userKind = (i) => (i % 10 < 5 ? 'gauge' : i % 10 < 8 ? 'counter' : 'histogram');
cases.push(
  { id: `${USER}prom-client`, table: 'scrape cost: 1k user metric families', variant: 'prom-client register.metrics(), its own gauges, counters, histograms', threads: [1], kind: 'tinybench', chunk: 1, baseline: true },
  { id: `${USER}atomic-stats`, table: 'scrape cost: 1k user metric families', variant: 'atomic-stats/prometheus register.metrics(), from shared memory', threads: [1], kind: 'tinybench', chunk: 1 },
  { id: `${USER}collect`, table: 'scrape cost: 1k user metric families', variant: 'registry.collect() alone (the read of the shared memory)', threads: [1], kind: 'tinybench', chunk: 1 },
);

// Opens family i of the mix on `make` (an atomic-stats registry's or prom-client's
// constructors) and records its values.
function userFamily(i, make) {
  const kind = userKind(i);
  if (kind === 'gauge') make.gauge({ name: `g_${i}`, help: `Gauge ${i}.` }).set(i + 0.5);
  else if (kind === 'counter') {
    const c = make.counter({ name: `c_${i}_total`, help: `Counter ${i}.`, labelNames: ['route'] });
    c.inc({ route: 'a' }, i + 1);
    c.inc({ route: 'b' }, i + 2);
  } else make.histogram({ name: `h_${i}_seconds`, help: `Histogram ${i}.` }).observe((i % 100) / 1000);
}

// Number of user series lines in a scrape with the value setup recorded.
function countUserSeries(text) {
  let n = 0;
  for (const line of text.split('\n')) {
    let m = /^g_(\d+) (\S+)$/.exec(line);
    if (m && Number(m[2]) === Number(m[1]) + 0.5) n++;
    m = /^c_(\d+)_total\{route="([ab])"\} (\d+)$/.exec(line);
    if (m && Number(m[3]) === Number(m[1]) + (m[2] === 'a' ? 1 : 2)) n++;
    if (/^h_\d+_seconds_count 1$/.test(line)) n++;
  }
  return n;
}

// "scrape cost: 1k summary series": one summary family with 1,000 labelled series of 50
// observations each, against prom-client's Summary holding the same (its t-digests).
const SUMMARIES = 'scrape/1k-summaries/';
const SUMMARY_SERIES = 1_000;
cases.push(
  { id: `${SUMMARIES}prom-client`, table: 'scrape cost: 1k summary series', variant: 'prom-client register.metrics(), its own Summary', threads: [1], kind: 'tinybench', chunk: 1, baseline: true },
  { id: `${SUMMARIES}atomic-stats`, table: 'scrape cost: 1k summary series', variant: 'atomic-stats/prometheus register.metrics(), from shared memory', threads: [1], kind: 'tinybench', chunk: 1 },
);
function fillSummary(s) {
  for (let i = 0; i < SUMMARY_SERIES; i++) for (let k = 0; k < 50; k++) s.observe({ id: `u${i}` }, ((k % 8) + 1) / 64);
}
const summaryDef = { name: 'job_seconds', help: 'Jobs.', labelNames: ['id'], maxSeries: SUMMARY_SERIES };
const countSummarySeries = (text) => (text.match(/^job_seconds_count\{id="u\d+"\} 50$/gm) ?? []).length;

const capacities = [
  [4, '4 MiB'],
  [64, '64 MiB'],
  [1024, '1 GiB'],
];
for (const [what, table] of [
  ['collect', 'scrape fixed cost: registry.collect() of an empty registry'],
  ['metrics', 'scrape fixed cost: atomic-stats/prometheus register.metrics() of an empty registry'],
]) {
  for (const [mib, tag] of capacities) {
    cases.push({ id: `scrape/empty/${what}/${mib}MiB`, table, variant: `capacityBytes ${tag}`, threads: [1], chunk: 1, baseline: mib === 4 });
  }
}
const EMPTY = 'scrape/empty/';
// The registry's own families, all an empty registry exports.
const OWN_FAMILIES = 6;

const seriesOf = (id) => (id.includes('/10k/') ? 10_000 : 1_000);

export async function setup(id) {
  if (id.startsWith(SUMMARIES)) {
    if (id.endsWith('/prom-client')) return { series: SUMMARY_SERIES };
    const registry = StatsRegistry.create({ capacityBytes: 16 * 1024 * 1024 });
    fillSummary(registry.summary(summaryDef));
    return { handle: registry.handle, series: SUMMARY_SERIES };
  }
  if (id.startsWith(USER)) {
    if (id.endsWith('/prom-client')) return { series: USER_SERIES };
    const registry = StatsRegistry.create({ capacityBytes: 16 * 1024 * 1024 });
    const make = { gauge: (o) => registry.gauge(o), counter: (o) => registry.counter(o), histogram: (o) => registry.histogram(o) };
    for (let i = 0; i < USER_FAMILIES; i++) userFamily(i, make);
    return { handle: registry.handle, series: USER_SERIES };
  }
  if (id.startsWith(EMPTY)) {
    const mib = Number(/(\d+)MiB$/.exec(id)[1]);
    const registry = StatsRegistry.create({ capacityBytes: mib * 1024 * 1024 });
    return { handle: registry.handle, series: 0 };
  }
  if (id.endsWith('/prom-client')) return { series: seriesOf(id) };
  const series = seriesOf(id);
  const registry = StatsRegistry.create({ capacityBytes: 16 * 1024 * 1024 });
  for (let s = 0; s < series / FIELDS; s++) {
    const set = registry.counters(`set${s}`, Array.from({ length: FIELDS }, (_, j) => fieldName(j)));
    for (let j = 0; j < FIELDS; j++) set.counter(fieldName(j)).add(s * FIELDS + j + 1);
  }
  return { handle: registry.handle, series };
}

// Number of series lines in a scrape whose value is the one setup wrote.
function countSeries(text) {
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^\S+\{set="set(\d+)",field="f(\d+)"\} (\d+)$/.exec(line);
    if (m && Number(m[3]) === Number(m[1]) * FIELDS + Number(m[2]) + 1) n++;
  }
  return n;
}

export async function prepare(id, data) {
  let last = '';
  if (id.startsWith(SUMMARIES)) {
    const register = new promClient.Registry();
    if (id.endsWith('/prom-client')) fillSummary(new promClient.Summary({ ...summaryDef, registers: [register] }));
    else registerAtomicStats(StatsRegistry.attach(data.handle), { register });
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) last = await register.metrics();
      },
      report: () => countSummarySeries(last),
    };
  }
  if (id.startsWith(USER)) {
    let register;
    let families = [];
    if (id.endsWith('/prom-client')) {
      register = new promClient.Registry();
      const registers = [register];
      const make = {
        gauge: (o) => new promClient.Gauge({ ...o, registers }),
        counter: (o) => new promClient.Counter({ ...o, registers }),
        histogram: (o) => new promClient.Histogram({ ...o, registers }),
      };
      for (let i = 0; i < USER_FAMILIES; i++) userFamily(i, make);
    } else {
      const registry = StatsRegistry.attach(data.handle);
      if (id.endsWith('/collect')) {
        return {
          async runAsync(n) {
            for (let i = 0; i < n; i++) families = registry.collect();
          },
          // The families' series: a gauge's one, a counter's two, a histogram's one.
          report: () => families.reduce((a, f) => a + (/^[gch]_\d+/.test(f.name) ? f.samples.length : 0), 0),
        };
      }
      register = new promClient.Registry();
      registerAtomicStats(registry, { register });
    }
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) last = await register.metrics();
      },
      report: () => countUserSeries(last),
    };
  }
  if (id.startsWith(EMPTY)) {
    const registry = StatsRegistry.attach(data.handle);
    if (id.includes('/collect/')) {
      let families = [];
      return {
        run(n) {
          for (let i = 0; i < n; i++) families = registry.collect();
        },
        report: () => families.length,
      };
    }
    const register = new promClient.Registry();
    registerAtomicStats(registry, { register });
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) last = await register.metrics();
      },
      report: () => (last.match(/^# TYPE /gm) ?? []).length,
    };
  }
  if (id.endsWith('/prom-client')) {
    const register = new promClient.Registry();
    for (let s = 0; s < data.series / FIELDS; s++) {
      const c = new promClient.Counter({ name: `atomic_stats_set_set${s}_total`, help: `Counter set "set${s}", one series per field.`, labelNames: ['set', 'field'], registers: [register] });
      for (let j = 0; j < FIELDS; j++) c.inc({ set: `set${s}`, field: fieldName(j) }, s * FIELDS + j + 1);
    }
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) last = await register.metrics();
      },
      report: () => countSeries(last),
    };
  }
  const registry = StatsRegistry.attach(data.handle);
  if (id.endsWith('/collect')) {
    let families;
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) families = registry.collect();
      },
      report: () => families.reduce((a, f) => a + (f.name.startsWith('atomic_stats_set_') ? f.samples.length : 0), 0),
    };
  }
  const register = new promClient.Registry();
  registerAtomicStats(registry, { register });
  return {
    async runAsync(n) {
      for (let i = 0; i < n; i++) last = await register.metrics();
    },
    report: () => countSeries(last),
  };
}

export async function verify(id, data, completed, reports) {
  if (completed <= 0) throw new Error(`${id}: no scrape completed`);
  if (id.startsWith(EMPTY)) {
    // Every scrape saw the registry's own families (and, through prom-client, nothing else).
    for (const r of reports) if (r !== OWN_FAMILIES) throw new Error(`${id}: the last scrape had ${r} families, not the registry's ${OWN_FAMILIES}`);
    return;
  }
  for (const r of reports) if (r !== data.series) throw new Error(`${id}: the last scrape had ${r} of ${data.series} series`);
}

export function targets(results) {
  const ns = (id) => results.find((r) => r.id === id)?.median;
  const out = [];
  const sOurs = ns(`${SUMMARIES}atomic-stats`);
  const sTheirs = ns(`${SUMMARIES}prom-client`);
  if (sOurs && sTheirs) {
    out.push({
      name: "scrape of 1k summary series, atomic-stats/prometheus vs prom-client's own",
      measured: `${(sOurs / 1e6).toFixed(2)} vs ${(sTheirs / 1e6).toFixed(2)} ms (${(sOurs / sTheirs).toFixed(2)}×)`,
      target: '≤ 1.00×',
      pass: sOurs <= sTheirs,
    });
  }
  const ours = ns(`${USER}atomic-stats`);
  const theirs = ns(`${USER}prom-client`);
  if (ours && theirs) {
    out.push({
      name: "scrape of 1k user metric families, atomic-stats/prometheus vs prom-client's own",
      measured: `${(ours / 1e6).toFixed(2)} vs ${(theirs / 1e6).toFixed(2)} ms (${(ours / theirs).toFixed(2)}×)`,
      target: '≤ 1.00×',
      pass: ours <= theirs,
    });
  }
  for (const tag of ['1k', '10k']) {
    const ours = ns(`scrape/${tag}/atomic-stats`);
    const theirs = ns(`scrape/${tag}/prom-client`);
    if (ours && theirs) {
      out.push({
        name: `scrape of ${tag} series, atomic-stats/prometheus vs prom-client's own counters`,
        measured: `${(ours / 1e6).toFixed(2)} vs ${(theirs / 1e6).toFixed(2)} ms (${(ours / theirs).toFixed(2)}×)`,
        target: '≤ 1.00×',
        pass: ours <= theirs,
      });
    }
  }
  for (const what of ['collect', 'metrics']) {
    const small = ns(`${EMPTY}${what}/4MiB`);
    const large = ns(`${EMPTY}${what}/1024MiB`);
    if (small && large) {
      out.push({
        name: `fixed cost of ${what === 'collect' ? 'registry.collect()' : 'a Prometheus scrape'}, empty registry: 1 GiB vs 4 MiB capacity`,
        measured: `${(large / 1e3).toFixed(1)} vs ${(small / 1e3).toFixed(1)} µs (${(large / small).toFixed(2)}×)`,
        target: '≤ 1.25× (does not grow with capacityBytes)',
        pass: large <= small * 1.25,
        value: large / small,
      });
    }
  }
  return out;
}
