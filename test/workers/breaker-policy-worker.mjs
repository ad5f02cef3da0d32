// Worker for test/breaker-window.threads.test.ts and test/breaker-lease.threads.test.ts.
// Plain .mjs: it runs the built package. Time comes from a fake clock in a
// SharedArrayBuffer (Int32 ms at index 0) unless workerData.realClock.
//
// modes (all started through test/helpers/workers.ts runWorkers, except 'hold'):
//   'pattern'  records workerData.pattern ('F' failure, 'S' success) `repeat` times on one
//              breaker, without asking for permits, so the totals are exact.
//   'notice'   for each breaker of `names` in turn: every worker arrives at a barrier, then
//              all ask for `attempts` permits at once; reports how many they got.
//   'forever'  records `pattern` in a loop until it is terminated.
//   'hold'     takes the probe of a breaker whose timeout has passed, reports its permit,
//              then keeps asking for permits in a loop until it is terminated.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const clockI32 = d.clock ? new Int32Array(d.clock) : undefined;
const options = d.realClock ? undefined : { clock: () => Atomics.load(clockI32, 0) };
const open = (name) => registry.circuitBreaker(name, d.config, options);

function waitForStart() {
  const flag = d.start instanceof Int32Array ? d.start : new Int32Array(d.start);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
}

// Spin until `cond`, napping 1 ms now and then so that spinning workers on 2 cores still
// let the others run.
const nap = new Int32Array(new SharedArrayBuffer(4));
function spinUntil(cond) {
  for (let spins = 1; !cond(); spins++) if (spins % 20000 === 0) Atomics.wait(nap, 0, 0, 1);
}

if (d.mode === 'pattern') {
  const b = open(d.name);
  const pattern = [...d.pattern];
  waitForStart();
  for (let r = 0; r < d.repeat; r++) {
    for (const c of pattern) {
      if (c === 'F') b.recordFailure(7);
      else b.recordSuccess(7);
    }
  }
  parentPort.postMessage({ done: true });
} else if (d.mode === 'notice') {
  const breakers = d.names.map(open);
  const sync = new Int32Array(d.sync);
  waitForStart();
  let admitted = 0;
  for (let t = 0; t < breakers.length; t++) {
    Atomics.add(sync, 0, 1);
    spinUntil(() => Atomics.load(sync, 0) >= d.parties * (t + 1));
    for (let a = 0; a < d.attempts; a++) if (breakers[t].tryAcquire()) admitted++;
  }
  parentPort.postMessage({ admitted });
} else if (d.mode === 'forever') {
  // Records workerData.pattern until terminated; says so once it is well under way.
  const b = open(d.name);
  const pattern = [...d.pattern];
  for (let r = 0; ; r++) {
    for (const c of pattern) {
      if (c === 'F') b.recordFailure(7);
      else b.recordSuccess(7);
    }
    if (r === 200) parentPort.postMessage({ started: true });
  }
} else if (d.mode === 'hold') {
  const b = open(d.name);
  const permit = b.acquirePermit();
  parentPort.postMessage({ permit });
  // Never records it; busy in the breaker until terminated.
  for (;;) b.tryAcquire();
}
