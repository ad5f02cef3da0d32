// Worker side of test/histogram-read.threads.test.ts: observes 1 into one histogram
// until told to stop, publishing how many observations it has started and finished, so
// that the main thread can bound what a read running meanwhile may show.
import { workerData, parentPort } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const h = registry.histogram({ name: 't_read_seconds', help: 'Reads.', buckets: [0.5, 1, 2], striped: d.striped });
const progress = new Int32Array(d.progress); // [started, finished] per worker
const stop = new Int32Array(d.stop);
const flag = new Int32Array(d.start);

parentPort.postMessage('ready');
Atomics.wait(flag, 0, 0);
let n = 0;
while (Atomics.load(stop, 0) === 0) {
  Atomics.store(progress, 2 * d.index, n + 1);
  h.observe(1);
  n++;
  Atomics.store(progress, 2 * d.index + 1, n);
}
parentPort.postMessage({ observed: n });
