// Worker side of test/breaker-guard.threads.test.ts: the synchronous guard
// (tryAcquire + recordSuccess) in a loop on one shared breaker. Plain .mjs: it runs the
// built package.
//
// workerData: { mode, handle, backend, name, config, d (duration ns), ... }
// mode 'count': `count` guards, then report { slot, admitted } and block until terminated
//   (the count is done, so the totals are exact).
// mode 'spin': guards until terminated, publishing after each one how many are done
//   (done[index]); killed between the two, `done` is one behind the breaker, never ahead.
import { parentPort, workerData as d } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const b = registry.circuitBreaker(d.name, d.config);

if (d.mode === 'count') {
  let admitted = 0;
  for (let i = 0; i < d.count; i++) {
    if (b.tryAcquire()) {
      admitted++;
      b.recordSuccess(d.d);
    }
  }
  parentPort.postMessage({ slot: registry.slot, admitted });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} else if (d.mode === 'spin') {
  const done = new Int32Array(d.done);
  parentPort.postMessage({ slot: registry.slot });
  for (let i = 1; ; i++) {
    if (!b.tryAcquire()) throw new Error('refused on a breaker that only succeeds');
    b.recordSuccess(d.d);
    Atomics.store(done, d.index, i);
  }
}
