// Worker side of test/remove.threads.test.ts ("churn"): every worker creates, writes and
// removes series of its own in one shared family, all at once, and keeps what each of its
// series must hold. Nobody else writes a worker's series, so any difference is a write
// that went to another series or was lost.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const counter = registry.counter({ name: 'churn_total', help: 'C.', labelNames: ['s'], maxSeries: d.maxSeries });
const hist = registry.histogram({ name: 'churn_seconds', help: 'C.', labelNames: ['s'], buckets: [1], maxSeries: d.maxSeries });
const expected = new Map();
const start = new Int32Array(d.start);
parentPort.postMessage('ready');
Atomics.wait(start, 0, 0);
for (let j = 0; j < d.iterations; j++) {
  const s = `${d.index}-${j % d.own}`;
  const amount = 1 + (j % 5);
  // Half through a child kept in the thread's cache, half through a labels object.
  if (j & 1) counter.labels({ s }).inc(amount);
  else counter.inc({ s }, amount);
  hist.labels(s).observe(0.5);
  const e = expected.get(s) ?? { count: 0, observations: 0 };
  e.count += amount;
  e.observations += 1;
  expected.set(s, e);
  if (j % 7 === 3) {
    const gone = `${d.index}-${(j * 3) % d.own}`;
    if (j & 2) counter.remove({ s: gone });
    else counter.remove(gone);
    hist.remove({ s: gone });
    expected.delete(gone);
  }
}
parentPort.postMessage({ expected: [...expected] });
