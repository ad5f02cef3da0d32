// One thread of one variant. It prepares the variant once, then runs the timed rounds
// the harness starts (see control.mjs for the protocol) until told to stop, and finally
// posts how many operations it completed plus the variant's own report, which the case
// module's verify() checks against the shared state.
import { workerData, parentPort } from 'node:worker_threads';
import { GO, ROUND_US, ARRIVED, DONE, READY, FAILED, STOP, STRIDE, STOP_ROUND, views } from './control.mjs';
import { threadSched } from './proc.mjs';

const { file, id, data, index, control, chunk, threads } = workerData;
const { ctrl, slots, slot } = views(control);
const mod = await import(file);
const impl = await mod.prepare(id, data, index);
const isAsync = typeof impl.runAsync === 'function';
if (!isAsync && typeof impl.run !== 'function') throw new Error(`${id}: prepare() returned neither run(n) nor runAsync(n)`);

const now = () => Number(process.hrtime.bigint());
const SPINS_BEFORE_SLEEP = 1 << 20;

function barrier() {
  Atomics.add(ctrl, ARRIVED, 1);
  // Spin, not wait: a futex wake-up is tens of microseconds and uneven. A thread that is
  // descheduled here delays the others' start, which the overlap check then sees; after
  // a long spin (another process holds our CPU) sleep in short steps instead of burning
  // the CPU that the late thread needs.
  for (let spins = 0, seen; (seen = Atomics.load(ctrl, ARRIVED)) < threads; spins++) {
    if (spins > SPINS_BEFORE_SLEEP) Atomics.wait(ctrl, ARRIVED, seen, 1);
  }
}

let completed = 0;
Atomics.add(ctrl, READY, 1);
Atomics.notify(ctrl, READY);
try {
  for (let round = 0; ; ) {
    Atomics.wait(ctrl, GO, round);
    round = Atomics.load(ctrl, GO);
    if (round === STOP_ROUND) break;
    const roundMs = Atomics.load(ctrl, ROUND_US) / 1000;
    const stride = Math.max(1, Atomics.load(ctrl, STRIDE));
    const s0 = threadSched();
    const w0 = now();
    barrier();
    const t0 = now();
    const p0 = performance.now();
    let ops = 0;
    // Thread 0 reads the clock (performance.now: ~40 ns) only every `stride` chunks, so
    // that the timekeeping costs well under 1% of the round; the flag check is one load.
    for (let k = 1; ; k++) {
      if (isAsync) await impl.runAsync(chunk);
      else impl.run(chunk);
      ops += chunk;
      if (Atomics.load(ctrl, STOP) !== 0) break;
      if (index === 0 && k % stride === 0 && performance.now() - p0 >= roundMs) {
        Atomics.store(ctrl, STOP, 1);
        break;
      }
    }
    const t1 = now();
    const s1 = threadSched();
    const w1 = now();
    completed += ops;
    slots[slot(index, 'start')] = t0;
    slots[slot(index, 'end')] = t1;
    slots[slot(index, 'ops')] = ops;
    slots[slot(index, 'run')] = s0 && s1 ? s1[0] - s0[0] : NaN;
    slots[slot(index, 'wait')] = s0 && s1 ? s1[1] - s0[1] : NaN;
    slots[slot(index, 'span')] = w1 - w0;
    Atomics.add(ctrl, DONE, 1);
    Atomics.notify(ctrl, DONE);
  }
} catch (err) {
  // Release the harness at once (it is waiting for DONE); the error itself reaches it
  // through the worker's 'error' event.
  Atomics.store(ctrl, FAILED, 1);
  Atomics.add(ctrl, DONE, threads);
  Atomics.notify(ctrl, DONE);
  throw err;
}
parentPort.postMessage({ completed, report: impl.report ? await impl.report() : undefined });
