// Worker side of test/histogram-killed-observer.threads.test.ts: observes 1 on one shared
// histogram in a loop (on its own stripe: striped: true), until the main thread terminates it.
// progress[index] = how many observations it has finished.
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const h = registry.histogram({ name: 'killed_seconds', help: 'h', buckets: [0.5, 2], striped: true });
const progress = new Int32Array(d.progress);
for (let i = 1; ; i++) {
  h.observe(1);
  Atomics.store(progress, d.index, i);
}
