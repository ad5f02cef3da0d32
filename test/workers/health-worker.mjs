// Worker side of test/thread-health.threads.test.ts: attaches, monitors itself under
// workerData.name every workerData.intervalMs, posts { type: 'ready', slot, threadId } once
// its first figures are published, then does what its mode says:
//   'idle'   nothing (the message port keeps it alive);
//   'busy'   runs callbacks back to back (setImmediate chains of 20 ms of work each), so
//            its event loop is never idle, though its timers still run;
//   'alloc'  allocates garbage on a timer, so its GC pauses are counted.
// Messages: { type: 'stall', ms } blocks its event loop for ms (a synchronous loop), then
// posts { type: 'unstalled' }; { type: 'exit' } ends it normally (the port is closed).
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
// A worker that finds no stripe left says so in its ready message instead of printing a warning.
const emit = process.emitWarning.bind(process);
let noSlot = false;
process.emitWarning = (w, o, ...rest) => {
  if (typeof o === 'object' && o?.code === 'ATOMIC_STATS_NO_THREAD_SLOT') noSlot = true;
  else emit(w, o, ...rest);
};

const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const monitor = registry.monitorThread({ name: d.name, intervalMs: d.intervalMs });
parentPort.postMessage({ type: 'ready', slot: monitor.slot, threadId, noSlot });

let work;
if (d.mode === 'busy') {
  const spin = () => {
    const until = performance.now() + 20;
    while (performance.now() < until) {
      // work
    }
    work = setImmediate(spin);
  };
  spin();
} else if (d.mode === 'alloc') {
  let keep = [];
  work = setInterval(() => {
    for (let i = 0; i < 20_000; i++) keep.push({ i, s: `x${i}` });
    if (keep.length > 200_000) keep = [];
  }, 5);
}

parentPort.on('message', (m) => {
  if (m?.type === 'stall') {
    const until = Date.now() + m.ms;
    while (Date.now() < until) {
      // this thread's event loop runs nothing meanwhile
    }
    parentPort.postMessage({ type: 'unstalled' });
  } else if (m?.type === 'exit') {
    clearImmediate(work);
    clearInterval(work);
    parentPort.close();
  }
});
