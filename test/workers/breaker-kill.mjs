// Worker side of test/breaker-killed-transition.threads.test.ts. Opens `count` breakers
// (the main thread has brought each to HalfOpen, its one probe taken), says so
// (progress[0] = 1), waits for the go (progress[1]), then changes every breaker's state
// once, back to back, with code that never ran in this thread before (interpreted: every
// call and return is a point where V8 can act on the termination): a success closes it
// ('closeBySuccess', the JS split of 'auto'), or it is forced open ('force'). The main
// thread terminates it in the middle.
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const progress = new Int32Array(d.progress);
const breakers = [];
for (let i = 0; i < d.count; i++) {
  breakers.push(registry.circuitBreaker(`${d.prefix}.${i}`, { timeoutMs: 1, successThreshold: 1 }));
}
Atomics.store(progress, 0, 1);
Atomics.wait(progress, 1, 0);
for (let i = 0; i < breakers.length; i++) {
  if (d.mode === 'closeBySuccess') breakers[i].recordSuccess(1000);
  else breakers[i].forceOpen();
  Atomics.store(progress, 2, i + 1);
}
Atomics.wait(progress, 3, 0);
