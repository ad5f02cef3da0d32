// Worker side of test/thread-churn.test.ts: threads that attach, count on an owned
// stripe, and end in every way a thread can end.
import { Worker, parentPort, threadId, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
// A carry on every add: 2^24 + 1 moves the high word by one and the low part by one, so
// a kill between the two stores of a carry is as likely as a kill anywhere else.
const STEP = 16777217;

function counter(registry) {
  return registry.counters('churn', ['n'], { striped: true }).counter('n');
}

if (d.mode === 'count') {
  // Attach, add `count` times `by`, report, then end as told: 'return' (the event loop
  // empties: a normal exit), 'exit' (process.exit), 'close' (close, then return), or
  // 'hold' (block until terminated; the count is done, so the total is exact).
  const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const c = counter(registry);
  // A listener of the application's that still records while the thread exits (the
  // package's own listener, registered at import, has handed the stripe back by then).
  if (d.exitInc) process.on('exit', () => c.inc());
  for (let i = 0; i < d.count; i++) c.add(d.by);
  const report = { slot: registry.slot, stripes: registry.stripes, threadId };
  if (d.end === 'close') {
    registry.close();
    report.closedSlot = registry.slot;
  }
  parentPort.postMessage(report);
  if (d.end === 'exit') process.exit(0);
  if (d.end === 'hold') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} else if (d.mode === 'steady') {
  // Counts by 1 until the stop flag is set, then reports how many it added.
  const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const c = counter(registry);
  const stop = new Int32Array(d.stop);
  parentPort.postMessage({ slot: registry.slot, threadId });
  let n = 0;
  while (Atomics.load(stop, 0) === 0) {
    for (let i = 0; i < 1000; i++) c.inc();
    n += 1000;
  }
  parentPort.postMessage({ count: n });
} else if (d.mode === 'spin') {
  // Counts until terminated: add STEP, then publish how many adds are done. Killed
  // between the two, `done` is one behind the counter, never ahead.
  const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const c = counter(registry);
  const done = new Int32Array(d.done);
  parentPort.postMessage({ slot: registry.slot, threadId });
  for (let i = 1; ; i++) {
    c.add(STEP);
    Atomics.store(done, d.index, i);
  }
} else if (d.mode === 'relay') {
  // Starts one child (workerData `d.child`) and does nothing else: passes the child's
  // messages up, reports its exit, and stays alive until terminated. `d.attach` says
  // whether this thread attaches too (its hook then watches the child's stripe).
  let registry;
  if (d.attach) registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const child = new Worker(new URL(import.meta.url), { workerData: d.child });
  child.on('message', (m) => parentPort.postMessage(m));
  child.on('error', (e) => parentPort.postMessage({ error: String(e) }));
  child.on('exit', (code) => parentPort.postMessage({ childExit: code, slotsInUse: registry?.usage().slotsInUse }));
  setInterval(() => {}, 1 << 30);
} else if (d.mode === 'parent-kills') {
  // This thread (attached) starts a spinning child and terminates it: its own hook
  // must release the child's stripe, with no help from the main thread.
  const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const done = new Int32Array(d.done);
  const child = new Worker(new URL(import.meta.url), { workerData: { ...d, mode: 'spin', index: 0 } });
  child.once('message', async (m) => {
    const before = registry.usage().slotsInUse;
    while (Atomics.load(done, 0) < 1000) await new Promise((r) => setTimeout(r, 1));
    await child.terminate();
    parentPort.postMessage({ childSlot: m.slot, before, after: registry.usage().slotsInUse, slot: registry.slot });
  });
}
