// Worker side of test/series-order.threads.test.ts: every worker creates the same label
// sets, in the same order, at the same instant, on a new metric each round.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const flag = new Int32Array(d.start);
parentPort.postMessage('ready');
for (let round = 0; round < d.rounds; round++) {
  const c = registry.counter({ name: `order_${round}_total`, help: 'h', labelNames: ['s'] });
  // Every worker at the round's start line before any creates a series.
  Atomics.add(flag, 1 + round, 1);
  while (Atomics.load(flag, 1 + round) < d.workers);
  for (const s of d.series) c.labels(s).inc();
}
parentPort.postMessage('done');
