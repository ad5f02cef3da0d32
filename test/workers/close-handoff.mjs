// Worker side of test/close-handoff.threads.test.ts. 'old': opens striped metrics, writes,
// closes its registry object (close() or [Symbol.dispose]()), and keeps writing through
// the handles it had. 'new': attaches after that close, so it takes over the same stripe,
// and writes the same series. Both write at once, behind the start flag.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
// Binary-exact values, so every order of adding them gives the same sum.
const OBSERVED = [0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5];
const BEFORE = ['/a', '/b', '/c'];
// 'late' is first created by the old worker after its close: a child made after the release.
const AFTER = ['/a', '/b', '/c', 'late'];

function open(registry) {
  return {
    requests: registry.counter({ name: 't_handoff_requests_total', help: 'R.', labelNames: ['route'], striped: true }),
    total: registry.counter({ name: 't_handoff_total', help: 'T.', striped: true }),
    bytes: registry.counter({ name: 't_handoff_bytes_total', help: 'B.', float: true, striped: true }),
    plain: registry.histogram({ name: 't_handoff_plain_seconds', help: 'P.', buckets: [0.25, 0.5, 1], striped: true }),
    latency: registry.histogram({ name: 't_handoff_latency_seconds', help: 'L.', labelNames: ['route'], buckets: [0.25, 0.5, 1], striped: true }),
    children: new Map(),
  };
}

// Odd iterations go through cached children, even ones through labels objects.
function work(m, n, routes) {
  for (let i = 0; i < n; i++) {
    const route = routes[i % routes.length];
    const v = OBSERVED[i % OBSERVED.length];
    if (i & 1) {
      let c = m.children.get(route);
      if (c === undefined) m.children.set(route, (c = { req: m.requests.labels(route), lat: m.latency.labels({ route }) }));
      c.req.inc();
      c.lat.observe(v);
    } else {
      m.requests.inc({ route });
      m.latency.observe({ route }, v);
    }
    m.total.inc();
    m.bytes.inc(0.5);
    m.plain.observe(v);
  }
}

function waitForStart() {
  parentPort.postMessage('ready');
  Atomics.wait(new Int32Array(d.start), 0, 0);
}

const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const slot = registry.slot;
const m = open(registry);
if (d.role === 'old') {
  work(m, d.before, BEFORE);
  if (d.dispose) registry[Symbol.dispose]();
  else registry.close();
  parentPort.postMessage({ slot, closedSlot: registry.slot, closed: registry.closed });
} else {
  parentPort.postMessage({ slot });
}
waitForStart();
work(m, d.iterations, AFTER);
parentPort.postMessage({ done: d.iterations });
