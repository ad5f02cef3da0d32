// Worker side of the "killed creators" test in test/directory.test.ts: creates counter
// sets as fast as it can, one name after another, until the main thread terminates it.
// progress[index] = how many names it has finished (created and counted once).
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const progress = new Int32Array(d.progress);
waitForStart();
for (let i = 0; i < d.limit; i++) {
  // Names shared with the partner worker race for the same records; sizes vary.
  const name = `${d.prefix}.${i}`;
  const fields = ['a', 'b', 'c'].slice(0, 1 + (i % 3));
  registry.counters(name, fields, { striped: i % 2 === 0 }).counter('a').inc();
  Atomics.store(progress, d.index, i + 1);
}
// Done before being killed: wait to be terminated.
Atomics.wait(progress, progress.length - 1, 0);
