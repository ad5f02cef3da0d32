// "scrape cost" rows of BENCH.md: one Prometheus scrape (`register.metrics()`, the text
// a scraper receives) of 1,000 and 10,000 counter series exported from shared memory by
// atomic-stats/prometheus, against prom-client's own counters holding the same series
// (same families, same label names and values, same numbers). One op is one whole scrape.
// verify() checks that the last scrape of every variant rendered every series with its
// value, so a variant that renders less cannot look fast.
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

const seriesOf = (id) => (id.includes('/10k/') ? 10_000 : 1_000);

export async function setup(id) {
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
  for (const r of reports) if (r !== data.series) throw new Error(`${id}: the last scrape had ${r} of ${data.series} series`);
}

export function targets(results) {
  const ns = (id) => results.find((r) => r.id === id)?.median;
  const out = [];
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
  return out;
}
