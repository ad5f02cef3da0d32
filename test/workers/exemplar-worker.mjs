// Worker side of test/exemplars.threads.test.ts: increments a counter and observes a
// histogram with exemplars whose labels name their own value, so a reader can tell a torn
// exemplar (the labels of one write beside the value of another) from a whole one.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const c = registry.counter({ name: 'ex_total', help: 'E.', labelNames: ['k'], enableExemplars: true });
const h = registry.histogram({ name: 'ex_seconds', help: 'E.', buckets: [1, 1000], enableExemplars: true });
const start = new Int32Array(d.start);
parentPort.postMessage('ready');
Atomics.wait(start, 0, 0);
for (let i = 1; i <= d.count; i++) {
  // Label lengths vary too, so a torn read could also mix long and short label bytes.
  const id = `${d.index}-${i}-${'x'.repeat(i % 40)}`;
  c.inc({ labels: { k: 'a' }, value: i, exemplarLabels: { id, v: String(i) } });
  h.observe({ value: i % 2000, exemplarLabels: { id, v: String(i % 2000) } });
}
parentPort.postMessage({ done: d.count });
