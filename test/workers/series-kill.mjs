// Worker side of test/series-killed-creator.threads.test.ts: creates labelled series as
// fast as it can, one new label value after another (several workers share a family, so
// some creations race for the same series), until the main thread terminates it.
// progress[index] = how many series it has finished creating.
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const c = registry.counter({ name: d.name, help: 'Killed creators.', labelNames: ['v'], maxSeries: d.maxSeries });
const progress = new Int32Array(d.progress);
const limit = d.limit ?? Infinity;
for (let i = 1; i <= limit; i++) {
  // Every other value is shared with the next worker: their creations race.
  c.labels({ v: i % 2 === 0 ? `s${i}` : `w${d.index}.${i}` }).inc();
  Atomics.store(progress, d.index, i);
}
// At its limit before being terminated: wait for it.
Atomics.wait(progress, d.index, Atomics.load(progress, d.index));
