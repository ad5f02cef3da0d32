// Worker side of test/collect-callbacks.threads.test.ts: defines two gauges whose collect
// callbacks copy a shared source word, one refreshed on a 20 ms timer of this thread, one
// only by this thread's own collections; then waits until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const source = new Int32Array(d.source);
registry.gauge({ name: 'queue_depth', help: 'Q.', collectIntervalMs: 20, collect() { this.set(Atomics.load(source, 0)); } });
registry.gauge({ name: 'queue_depth_scraped', help: 'Q.', collect() { this.set(Atomics.load(source, 0)); } });
registry.collect(); // this thread's own collection runs both callbacks once
parentPort.on('message', (m) => {
  if (m === 'collect') {
    registry.collect();
    parentPort.postMessage('collected');
  } else if (m === 'stop') {
    parentPort.close();
  }
});
parentPort.postMessage('ready');
