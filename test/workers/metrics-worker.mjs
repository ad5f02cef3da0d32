// Worker side of test/metrics.threads.test.ts: labelled counters, gauges and histograms
// from real worker threads; the main thread checks exact totals afterwards.
import { workerData, parentPort } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });

function waitForStart() {
  const flag = new Int32Array(d.start);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
}

export const ROUTES = ['/a', '/b', '/c'];
export const POOLS = ['p0', 'p1'];
// Binary-exact values, so every order of adding them gives the same sum.
export const OBSERVED = [0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5];

function metrics() {
  return {
    requests: registry.counter({ name: 't_requests_total', help: 'Requests.', labelNames: ['route'], striped: d.striped }),
    bytes: registry.counter({ name: 't_bytes_total', help: 'Fractional bytes.', labelNames: ['route'], float: true, striped: d.striped }),
    inflight: registry.gauge({ name: 't_inflight', help: 'In flight.', labelNames: ['pool'] }),
    last: registry.gauge({ name: 't_last_writer', help: 'Last writer.' }),
    latency: registry.histogram({ name: 't_latency_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.25, 0.5, 1], striped: d.striped }),
  };
}

if (d.mode === 'work') {
  const m = metrics();
  // Half the iterations go through labels objects, half through cached children.
  const children = ROUTES.map((route) => ({ req: m.requests.labels(route), bytes: m.bytes.labels(route), lat: m.latency.labels({ route }) }));
  waitForStart();
  for (let i = 0; i < d.iterations; i++) {
    const r = i % ROUTES.length;
    const v = OBSERVED[i % OBSERVED.length];
    const pool = { pool: POOLS[i % POOLS.length] };
    if (i & 1) {
      children[r].req.inc();
      children[r].bytes.inc(0.5);
      children[r].lat.observe(v);
    } else {
      const labels = { route: ROUTES[r] };
      m.requests.inc(labels);
      m.bytes.inc(labels, 0.5);
      m.latency.observe(labels, v);
    }
    m.inflight.inc(pool, 1.5);
    m.inflight.dec(pool, 0.5);
    if ((i & 1023) === 0) m.last.set(d.index);
  }
  m.last.set(d.index);
  parentPort.postMessage({ done: d.iterations });
} else if (d.mode === 'race-create') {
  // Every worker asks for the same label values, each in its own order, past maxSeries.
  const c = registry.counter({ name: 't_race_total', help: 'Race.', labelNames: ['v'], maxSeries: d.maxSeries });
  const order = d.values.map((_, i) => d.values[(i * 7 + d.index * 13) % d.values.length]);
  waitForStart();
  let ok = 0;
  let refused = 0;
  for (const v of order) {
    try {
      c.inc({ v });
      ok++;
    } catch (e) {
      if (e.code !== 'ERR_CARDINALITY_LIMIT') throw e;
      refused++;
    }
  }
  parentPort.postMessage({ ok, refused });
} else if (d.mode === 'die') {
  // Runs until terminated: each iteration creates a new series, then counts, sets and
  // observes, then records its progress last.
  const m = metrics();
  const churn = registry.counter({ name: 't_churn_total', help: 'Churn.', labelNames: ['i'], maxSeries: 1_000_000 });
  const progress = registry.counter({ name: `t_progress_${d.index}_total`, help: 'Progress.' });
  waitForStart();
  for (let i = 0; ; i++) {
    churn.inc({ i: String(i) });
    m.requests.inc({ route: '/a' });
    m.inflight.inc({ pool: 'p0' }, 2);
    m.inflight.dec({ pool: 'p0' }, 1);
    m.latency.observe({ route: '/a' }, 0.5);
    progress.inc();
  }
}
