// "metrics peer" rows of BENCH.md: the metric kinds against prom-client, which keeps its
// series in the calling thread's heap (not shared). Single-thread rows run under
// tinybench in fresh workers; the striped-histogram rows run 1 and 2 real threads on one
// shared series. Every variant does the same logical work and verify() checks the final
// counts (for prom-client, from the worker's own registry via report()), so a broken
// variant cannot look fast. Bytes per series are reported as informational target rows.
import v8 from 'node:v8';
import vm from 'node:vm';
import client from 'prom-client';
import { StatsRegistry } from '../../dist/index.js';

const ROUTES = ['/users', '/orders', '/items', '/login'];
const CODES = ['200', '404'];
const VALUES = [0.003, 0.02, 0.07, 0.2, 0.6, 1.5, 4, 12]; // one per default bucket region
const INC = 'metrics: counter inc, 1 thread';
const OBS = 'metrics: histogram observe, 1 thread';
const SHARED = 'metrics: histogram observe on one shared series';
const SUM = 'metrics: summary observe, 1 thread';

export const cases = [
  { id: 'inc/prom-labels', table: INC, variant: "prom-client inc({route, code}, 1)", baseline: true },
  { id: 'inc/wasm-labels', table: INC, variant: 'atomic-stats inc({route, code}, 1), Wasm' },
  { id: 'inc/js-labels', table: INC, variant: 'atomic-stats inc({route, code}, 1), JS' },
  { id: 'inc/prom-child', table: INC, variant: 'prom-client labels(...) child inc()' },
  { id: 'inc/wasm-child', table: INC, variant: 'atomic-stats cached child inc(), Wasm' },
  { id: 'inc/js-child', table: INC, variant: 'atomic-stats cached child inc(), JS' },
  { id: 'inc/wasm-set', table: INC, variant: 'counter-set Counter.inc(), Wasm (reference)' },
  { id: 'obs/prom', table: OBS, variant: 'prom-client Histogram.observe(v)', baseline: true },
  { id: 'obs/wasm', table: OBS, variant: 'atomic-stats observe(v), Wasm' },
  { id: 'obs/wasm-striped', table: OBS, variant: 'atomic-stats observe(v), Wasm, striped' },
  { id: 'obs/js', table: OBS, variant: 'atomic-stats observe(v), JS' },
  { id: 'obs/prom-labels', table: OBS, variant: 'prom-client observe({route}, v)' },
  { id: 'obs/wasm-labels', table: OBS, variant: 'atomic-stats observe({route}, v), Wasm' },
  { id: 'sum/prom', table: SUM, variant: 'prom-client Summary.observe(v)', baseline: true },
  { id: 'sum/wasm', table: SUM, variant: 'atomic-stats summary observe(v), Wasm' },
  { id: 'sum/js', table: SUM, variant: 'atomic-stats summary observe(v), JS' },
  { id: 'sum/prom-window', table: SUM, variant: 'prom-client Summary.observe(v), maxAgeSeconds 600, ageBuckets 5' },
  { id: 'sum/wasm-window', table: SUM, variant: 'atomic-stats summary observe(v), Wasm, maxAgeSeconds 600, ageBuckets 5' },
].map((c) => ({ ...c, threads: [1], kind: 'tinybench' }));
cases.push(
  { id: 'shared/wasm', table: SHARED, variant: 'Wasm, shared cells', threads: [1, 2], baseline: true },
  { id: 'shared/wasm-striped', table: SHARED, variant: 'Wasm, striped', threads: [1, 2] },
);

const backendOf = (id) => (id.includes('js') ? 'js' : 'wasm');

export async function setup(id) {
  if (id.includes('prom')) return {};
  // 64 owned stripes: every attachment the table keeps alive (each variant's threads,
  // verify()) owns one, as a right-sized pool would; the default is sized to the cores.
  const registry = StatsRegistry.create({ backend: backendOf(id), stripes: 64 });
  return { handle: registry.handle, backend: backendOf(id), striped: id.includes('striped') };
}

const counterDef = { name: 'bench_requests_total', help: 'Requests.', labelNames: ['route', 'code'] };
const histDef = { name: 'bench_latency_seconds', help: 'Latency.' };
const histLabelledDef = { ...histDef, name: 'bench_route_latency_seconds', labelNames: ['route'] };
const sumDef = (id) => (id.endsWith('-window') ? { name: 'bench_summary_seconds', help: 'S.', maxAgeSeconds: 600, ageBuckets: 5 } : { name: 'bench_summary_seconds', help: 'S.' });

export async function prepare(id, data) {
  if (id.startsWith('sum/')) {
    if (id.includes('prom')) {
      const s = new client.Summary({ ...sumDef(id), registers: [new client.Registry()] });
      const report = async () => (await s.get()).values.find((v) => v.metricName?.endsWith('_count')).value;
      return { run: (n) => { for (let i = 0; i < n; i++) s.observe(VALUES[i & 7]); }, report };
    }
    const s = StatsRegistry.attach(data.handle, { backend: data.backend }).summary(sumDef(id));
    return { run: (n) => { for (let i = 0; i < n; i++) s.observe(VALUES[i & 7]); } };
  }
  if (id.includes('prom')) {
    const register = new client.Registry();
    if (id.startsWith('inc/')) {
      const c = new client.Counter({ ...counterDef, registers: [register] });
      const children = ROUTES.map((r) => c.labels(r, '200'));
      const report = async () => (await c.get()).values.reduce((s, v) => s + v.value, 0);
      if (id === 'inc/prom-child') return { run: (n) => { for (let i = 0; i < n; i++) children[i & 3].inc(); }, report };
      return { run: (n) => { for (let i = 0; i < n; i++) c.inc({ route: ROUTES[i & 3], code: CODES[(i >> 2) & 1] }, 1); }, report };
    }
    const labelled = id === 'obs/prom-labels';
    const h = new client.Histogram({ ...(labelled ? histLabelledDef : histDef), registers: [register] });
    const report = async () => (await h.get()).values.filter((v) => v.metricName.endsWith('_count')).reduce((s, v) => s + v.value, 0);
    if (labelled) return { run: (n) => { for (let i = 0; i < n; i++) h.observe({ route: ROUTES[i & 3] }, VALUES[i & 7]); }, report };
    return { run: (n) => { for (let i = 0; i < n; i++) h.observe(VALUES[i & 7]); }, report };
  }
  const r = StatsRegistry.attach(data.handle, { backend: data.backend });
  if (id === 'inc/wasm-set') {
    const c = r.counters('bench_set', ['hits']).counter('hits');
    return { run: (n) => { for (let i = 0; i < n; i++) c.inc(); } };
  }
  if (id.startsWith('inc/')) {
    const c = r.counter(counterDef);
    if (id.endsWith('-child')) {
      const children = ROUTES.map((route) => c.labels(route, '200'));
      return { run: (n) => { for (let i = 0; i < n; i++) children[i & 3].inc(); } };
    }
    return { run: (n) => { for (let i = 0; i < n; i++) c.inc({ route: ROUTES[i & 3], code: CODES[(i >> 2) & 1] }, 1); } };
  }
  if (id === 'obs/wasm-labels') {
    const h = r.histogram(histLabelledDef);
    return { run: (n) => { for (let i = 0; i < n; i++) h.observe({ route: ROUTES[i & 3] }, VALUES[i & 7]); } };
  }
  const h = r.histogram({ ...histDef, striped: data.striped });
  return { run: (n) => { for (let i = 0; i < n; i++) h.observe(VALUES[i & 7]); } };
}

export async function verify(id, data, totalOps, reports) {
  let got;
  if (id.includes('prom')) got = reports[0];
  else if (id.startsWith('sum/')) {
    const r = StatsRegistry.attach(data.handle, { backend: data.backend });
    got = (await r.summary(sumDef(id)).get()).values.find((v) => v.metricName?.endsWith('_count')).value;
  } else {
    const r = StatsRegistry.attach(data.handle, { backend: data.backend });
    if (id === 'inc/wasm-set') got = r.counters('bench_set', ['hits']).counter('hits').value();
    else if (id.startsWith('inc/')) got = (await r.counter(counterDef).get()).values.reduce((s, v) => s + v.value, 0);
    else {
      const def = id === 'obs/wasm-labels' ? histLabelledDef : { ...histDef, striped: data.striped };
      got = (await r.histogram(def).get()).values.filter((v) => v.metricName.endsWith('_count')).reduce((s, v) => s + v.value, 0);
    }
  }
  if (got !== totalOps) throw new Error(`${id}: counted ${got}, expected ${totalOps}`);
}

// ---- bytes per series ------------------------------------------------------------------
// Shared bytes: the registry's bump allocator, per series, over N series (record head,
// name, signature and cells, 128-byte aligned). For labelled series the same figure from
// the formula of docs/metrics.md ("Memory per series"), which the row requires to be
// exact. prom-client: V8 heap growth per series after a full GC, over N labelled series
// of one metric (its hashMap entry, label object and value). Both indicative.
const N = 2000;
let gc;
function fullGc() {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc');
  }
  gc();
  gc();
}

const up = (n, to = 128) => Math.ceil(n / to) * to;
const utf8Bytes = (s) => Buffer.byteLength(s, 'utf8');
/** docs/metrics.md: bytes = H + ⌈D⌉ for one labelled series (H = 128 while Σ (2 + v) ≤ 64, else 384). */
// `striped`: true, false, or 'adaptive' (the default: the cells and one word; a series not inflated).
export function seriesBytesFormula(kind, _family, labels, { striped = 'adaptive', stripes, bounds = 11 }) {
  let k = 0;
  for (const v of Object.values(labels)) k += 2 + utf8Bytes(v);
  const c = bounds + 2;
  const word = striped === 'adaptive' ? 8 : 0;
  const d = kind === 'gauge' ? 8 : kind === 'histogram' ? (striped === true ? up(8 * c) + stripes * up(up(4 * c, 8) + 8 * c) : 8 * c + word) : striped === true ? 128 * (stripes + 1) : 8 + word;
  if (d <= 16) return k <= 56 ? 128 : 384 + 128; // cells inside a small head (inline node)
  return (k <= 64 ? 128 : 384) + up(d);
}

export function bytesPerSeries() {
  const ours = (make) => {
    const r = StatsRegistry.create({ capacityBytes: 64 * 1024 * 1024 });
    const before = r.usage().usedBytes;
    make(r);
    return (r.usage().usedBytes - before) / N;
  };
  // N labelled series of one metric: measured, and the formula's mean over the same label sets.
  // (The metric's own record is allocated before the count starts: it is not per series.)
  const labelled = (kind, def, labelsOf) => {
    const r = StatsRegistry.create({ capacityBytes: 64 * 1024 * 1024 });
    const m = r[kind]({ ...def, help: 'h', labelNames: Object.keys(labelsOf(0)), maxSeries: N });
    const before = r.usage().usedBytes;
    for (let i = 0; i < N; i++) m.labels(labelsOf(i));
    const measured = (r.usage().usedBytes - before) / N;
    let sum = 0;
    for (let i = 0; i < N; i++) sum += seriesBytesFormula(kind, def.name, labelsOf(i), { striped: def.striped ?? 'adaptive', stripes: r.stripes, bounds: def.buckets?.length });
    return { measured, formula: sum / N };
  };
  const heap = (make) => {
    const register = new client.Registry();
    fullGc();
    const before = process.memoryUsage().heapUsed;
    const keep = make(register);
    fullGc();
    const bytes = (process.memoryUsage().heapUsed - before) / N;
    void keep; // alive until measured
    return bytes;
  };
  const route = (i) => ({ route: `/api/users/${i}`, code: '200' });
  return {
    'counter, one metric each (unlabelled)': ours((r) => { for (let i = 0; i < N; i++) r.counter({ name: `c${i}`, help: 'h' }); }),
    'counter, striped, one metric each': ours((r) => { for (let i = 0; i < N; i++) r.counter({ name: `c${i}`, help: 'h', striped: true }); }),
    'counter, labelled child': labelled('counter', { name: 'c' }, (i) => ({ id: `u${i}` })),
    'counter http_requests_total{route,code}, labelled child': labelled('counter', { name: 'http_requests_total' }, route),
    'counter http_requests_total{route,code}, striped, labelled child': labelled('counter', { name: 'http_requests_total', striped: true }, route),
    'gauge, labelled child': labelled('gauge', { name: 'g' }, (i) => ({ id: `u${i}` })),
    'histogram (default buckets), labelled child': labelled('histogram', { name: 'h' }, (i) => ({ id: `u${i}` })),
    'histogram http_request_duration_seconds{route}, labelled child': labelled('histogram', { name: 'http_request_duration_seconds' }, (i) => ({ route: `/api/users/${i}` })),
    'prom-client counter, labelled child (heap)': heap((register) => { const c = new client.Counter({ name: 'c', help: 'h', labelNames: ['id'], registers: [register] }); for (let i = 0; i < N; i++) c.inc({ id: `u${i}` }); return c; }),
    'prom-client histogram, labelled child (heap)': heap((register) => { const h = new client.Histogram({ name: 'h', help: 'h', labelNames: ['id'], registers: [register] }); for (let i = 0; i < N; i++) h.observe({ id: `u${i}` }, 1); return h; }),
  };
}

const round1 = (x) => (Math.round(x * 10) / 10).toLocaleString('en-US');

export function targets(results) {
  const ns = (id, t = 1) => results.find((r) => r.id === id && r.threads === t)?.median;
  const out = [];
  const push = (name, measured, target, pass) => out.push({ name, measured, target, pass });
  const fmt = (x) => `${x.toFixed(2)}×`;
  for (const b of ['wasm', 'js']) {
    const ours = ns(`inc/${b}-labels`);
    const prom = ns('inc/prom-labels');
    if (ours && prom) push(`labelled inc(labels, n), ${b === 'wasm' ? 'Wasm' : 'JS'}, vs prom-client's`, fmt(ours / prom), '≤ 1.00×', ours <= prom);
  }
  const child = ns('inc/wasm-child');
  const set = ns('inc/wasm-set');
  if (child && set) push('cached child inc() vs counter-set Counter.inc(), Wasm', fmt(child / set), '≤ 1.50×', child <= 1.5 * set);
  const obs = ns('obs/wasm');
  const pobs = ns('obs/prom');
  if (obs && pobs) push('histogram observe(v), Wasm, vs prom-client Histogram.observe', fmt(obs / pobs), '≤ 1.00×', obs <= pobs);
  const sobs = ns('sum/wasm');
  const psobs = ns('sum/prom');
  if (sobs && psobs) push('summary observe(v), Wasm, vs prom-client Summary.observe', fmt(sobs / psobs), '≤ 1.00×', sobs <= psobs);
  const s2 = ns('shared/wasm-striped', 2);
  const c2 = ns('shared/wasm', 2);
  if (s2 && c2) push('striped vs shared histogram, 2 threads on one series (throughput)', fmt(c2 / s2), '≥ 1.5×', c2 / s2 >= 1.5);
  if (results.some((r) => r.id.startsWith('inc/'))) {
    for (const [what, b] of Object.entries(bytesPerSeries())) {
      if (typeof b === 'number') push(`bytes per series: ${what}`, `${Math.round(b)} B`, 'info', true);
      // Labelled series of ours: the measured mean must be the documented formula's, exactly.
      else push(`bytes per series: ${what}`, `${round1(b.measured)} B`, `= docs formula (${round1(b.formula)} B)`, b.measured === b.formula);
    }
  }
  return out;
}
