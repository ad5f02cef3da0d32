// Worker side of test/stats-killed-writer.threads.test.ts: records whole step and
// completion records in a loop, until the main thread terminates it.
// progress[index] = how many loop turns it has finished.
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const steps = registry.stepExecutionStats('killed.steps');
const subs = registry.workerSubscriberStats('killed.subs');
const progress = new Int32Array(d.progress);
for (let i = 1; ; i++) {
  steps.recordFailure();
  steps.recordSuccess(7);
  // A failed completion that was also a conversion error and an unmatched correlation:
  // the four-cell record (DONE_CONVERSION_ERROR | DONE_UNMATCHED).
  subs.recordOutcome(2 | 4);
  Atomics.store(progress, d.index, i);
}
