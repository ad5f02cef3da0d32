// Worker side of test/summary.threads.test.ts: observes its share of a known data set
// into one shared summary, half through a cached child, half through labels objects.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const s = registry.summary({ name: 'shared_seconds', help: 'S.', labelNames: ['route'], percentiles: d.percentiles });
const child = s.labels({ route: '/a' });
const start = new Int32Array(d.start);
parentPort.postMessage('ready');
Atomics.wait(start, 0, 0);
for (let i = 0; i < d.count; i++) {
  // Multiples of 2^-10: every partial sum is exact, so the total is the same in any order.
  const v = (((i * 7919 + d.index * 104729) % 100_000) + 1) / 1024;
  if (i & 1) child.observe(v);
  else s.observe({ route: '/a' }, v);
}
parentPort.postMessage({ done: d.count });
