// Worker side of test/bulkhead.threads.test.ts. Plain .mjs: it runs the built package.
//
// workerData: { mode, handle, backend, name, config, index, ... }
// mode 'calls': `count` bulkhead.call()s, `outstanding` at a time, each with a random
//   duration (sync, a microtask, setImmediate or a timer); inside the work a shared
//   counter (probe[0]) of calls in work and its peak (probe[1]). Reports { done, failed }.
// mode 'guard': `count` tryAcquire()s; each true does the same probe around a short sync
//   spin, then release(). Reports { admitted, refused }.
// mode 'hold': takes `permits` permits with tryAcquire(), reports them, and blocks until
//   terminated (it never releases).
// mode 'wait': one call() that, once admitted, writes this worker's index + 1 at the next
//   place of order[] (order[0] is the next place), holds the permit `holdMs`, and reports.
//   Posts 'queued' once its call is in the queue.
// mode 'wait-forever': one call() that waits in the queue; blocks nothing, so the test can
//   terminate it while it waits.
import { parentPort, workerData as d } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const bulkhead = registry.bulkhead(d.name, d.config);

// xorshift32, seeded per worker: the durations differ between threads and between calls.
let seed = (d.index + 1) * 0x9e3779b1;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

function enter(probe) {
  const now = Atomics.add(probe, 0, 1) + 1;
  for (;;) {
    const peak = Atomics.load(probe, 1);
    if (now <= peak || Atomics.compareExchange(probe, 1, peak, now) === peak) break;
  }
}
const leave = (probe) => Atomics.sub(probe, 0, 1);

function spin(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x += i;
  return x;
}

async function work(probe) {
  enter(probe);
  try {
    const r = rand();
    if (r < 0.25) spin(200);
    else if (r < 0.5) await Promise.resolve();
    else if (r < 0.8) await new Promise((res) => setImmediate(res));
    else await new Promise((res) => setTimeout(res, 0));
  } finally {
    leave(probe);
  }
}

// runWorkers passes a start flag (all workers begin together); startWorkers none.
if (d.start !== undefined) waitForStart();

if (d.mode === 'calls') {
  const probe = new Int32Array(d.probe);
  let next = 0;
  let done = 0;
  let failed = 0;
  const lane = async () => {
    while (next < d.count) {
      next++;
      try {
        await bulkhead.call(() => work(probe));
        done++;
      } catch (e) {
        failed++;
        if (failed === 1) console.error(e);
      }
    }
  };
  await Promise.all(Array.from({ length: d.outstanding }, lane));
  parentPort.postMessage({ done, failed });
} else if (d.mode === 'guard') {
  const probe = new Int32Array(d.probe);
  let admitted = 0;
  let refused = 0;
  for (let i = 0; i < d.count; i++) {
    if (bulkhead.tryAcquire()) {
      admitted++;
      enter(probe);
      spin((rand() * 64) | 0);
      leave(probe);
      bulkhead.release();
    } else {
      refused++;
    }
  }
  parentPort.postMessage({ admitted, refused });
} else if (d.mode === 'hold') {
  let held = 0;
  for (let i = 0; i < d.permits; i++) if (bulkhead.tryAcquire()) held++;
  parentPort.postMessage({ held });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} else if (d.mode === 'wait') {
  const order = new Int32Array(d.order);
  const queuedBefore = bulkhead.metrics().queued;
  const p = bulkhead.call(async () => {
    order[Atomics.add(order, 0, 1) + 1] = d.index + 1;
    await new Promise((res) => setTimeout(res, d.holdMs));
  });
  if (bulkhead.metrics().queued > queuedBefore) parentPort.postMessage('queued');
  await p;
  parentPort.postMessage({ ok: true });
} else if (d.mode === 'wait-forever') {
  bulkhead.call(async () => {}).catch(() => {});
  parentPort.postMessage('queued');
}
