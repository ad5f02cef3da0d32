// Worker side of test/breaker-killed-record.threads.test.ts: records a failure and a
// success of one duration on a shared breaker in a loop (a success after each failure, so
// the breaker never opens), until the main thread terminates it.
// progress[index] = how many loop turns it has finished.
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const breaker = registry.circuitBreaker('killed.breaker');
const progress = new Int32Array(d.progress);
for (let i = 1; ; i++) {
  breaker.recordFailure(d.nanos);
  breaker.recordSuccess(d.nanos);
  Atomics.store(progress, d.index, i);
}
