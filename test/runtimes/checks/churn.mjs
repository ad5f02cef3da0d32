// Thread churn and stripe hand-back. A stripe is written with plain stores by its one
// holder, so it may go to a new thread only once the old one can write nothing more. The
// holder hands it back itself when it ends normally (return, process.exit, close); the
// thread that created it hands it back when a terminated worker's 'exit' event proves that
// the worker has stopped, on the runtimes where it does (HANDS_BACK_TERMINATED, lib.mjs).
// Every part checks exact totals as well as who got which stripe.
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { StatsRegistry } from 'atomic-stats';
import { BACKENDS, HANDS_BACK_TERMINATED, RUNTIME, sleep, start, until } from './lib.mjs';

const SELF = new URL(import.meta.url);
const counterOf = (registry) => registry.counters('churn', ['n'], { striped: true }).counter('n');

/** Waits until `read()` has not changed for 100 ms; returns its value. */
async function settled(read) {
  let last = read();
  for (let same = 0; same < 50; ) {
    await sleep(2);
    const v = read();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

async function normalAndTerminated() {
  // 12 waves of 4 workers, ending in turn by return, process.exit(), close() and
  // termination (an idle worker, terminated by the main thread).
  const STRIPES = 16;
  const COUNT = 5_000;
  const r = StatsRegistry.create({ stripes: STRIPES });
  const ends = ['return', 'exit', 'close', 'hold'];
  const reports = [];
  for (let wave = 0; wave < 12; wave++) {
    const workers = [0, 1, 2, 3].map((i) => {
      const end = ends[(wave + i) % 4];
      return { end, w: start(SELF, { mode: 'count', handle: r.handle, backend: BACKENDS[(wave + i) % 3], count: COUNT, by: 7, end }) };
    });
    for (const { end, w } of workers) reports.push({ end, ...(await w.next()) });
    for (const { end, w } of workers) if (end === 'hold') await w.worker.terminate();
    await Promise.all(workers.map(({ w }) => w.exited));
    if (HANDS_BACK_TERMINATED) await until(() => r.usage().slotsInUse === 1, `wave ${wave}: every stripe back`);
  }
  const owned = (x) => x.slot >= 0 && x.slot < STRIPES;
  if (HANDS_BACK_TERMINATED) {
    assert.ok(reports.every(owned), `every worker owned a stripe: ${reports.map((x) => x.slot)}`);
    assert.equal(r.usage().slotsInUse, 1);
  } else {
    // A normal end hands its stripe back; a terminated worker keeps it.
    await sleep(50);
    assert.equal(r.usage().slotsInUse, 1 + reports.filter((x) => x.end === 'hold' && owned(x)).length);
    assert.ok(reports.filter((x) => x.end !== 'hold').slice(0, 8).every(owned), 'the first normal ends owned stripes');
  }
  assert.equal(r.usage().attachmentsWithoutStripe, reports.filter((x) => x.slot >= STRIPES).length);
  assert.deepEqual(r.counters('churn', ['n'], { striped: true }).snapshot(), { n: 48 * COUNT * 7 });
  return `48 workers (normal ends and terminations) on ${STRIPES} stripes, ${r.usage().slotsInUse} stripe(s) held at the end`;
}

async function pool() {
  // piscina recycling 48 threads on 16 stripes: idleTimeout 0 and minThreads 0, so the
  // pool terminates each thread as soon as it is idle and every wave runs on new threads.
  const STRIPES = 16;
  const PER_TASK = 20_000;
  const r = StatsRegistry.create({ stripes: STRIPES });
  const p = new Piscina({ filename: new URL('./churn-pool-task.mjs', import.meta.url).href, minThreads: 0, maxThreads: 4, idleTimeout: 0 });
  const reports = [];
  try {
    for (let wave = 0; wave < 12; wave++) {
      const tasks = [0, 1, 2, 3].map((i) => p.run({ handle: r.handle, backend: BACKENDS[(wave + i) % 3], count: PER_TASK }));
      reports.push(...(await Promise.all(tasks)));
      await until(() => p.threads.length === 0 && (!HANDS_BACK_TERMINATED || r.usage().slotsInUse === 1), `wave ${wave}: the pool to recycle its threads`);
    }
  } finally {
    await p.close();
  }
  const threads = new Set(reports.map((x) => x.threadId));
  assert.ok(threads.size >= 40, `${threads.size} threads`);
  const withStripe = reports.filter((x) => x.slot < STRIPES);
  if (HANDS_BACK_TERMINATED) {
    assert.equal(withStripe.length, reports.length, `every thread owned a stripe: ${reports.map((x) => x.slot)}`);
    assert.equal(r.usage().slotsInUse, 1);
  } else {
    // Every retired thread keeps its stripe: the first STRIPES - 1 threads own one each.
    assert.equal(new Set(withStripe.map((x) => x.threadId)).size, STRIPES - 1);
  }
  assert.deepEqual(r.counters('pool', ['n'], { striped: true }).snapshot(), { n: 48 * PER_TASK });
  assert.equal(r.usage().attachments, 1 + threads.size);
  return `piscina recycled ${threads.size} threads on ${STRIPES} stripes; ${withStripe.length} tasks on an owned stripe`;
}

async function terminatedWhileCounting() {
  // A worker terminated in the middle of a synchronous counting loop. Once its 'exit' event
  // has fired, the main thread attaches and counts; the worker's own tally says how many
  // adds it finished. Wherever the stripe is handed back, the new holder must be its only
  // writer, or counts are lost.
  const STRIPES = 2;
  const rounds = [];
  for (let round = 0; round < 5; round++) {
    const r = StatsRegistry.create({ stripes: STRIPES });
    const done = new Int32Array(new SharedArrayBuffer(8));
    const spinner = start(SELF, { mode: 'spin', handle: r.handle, done: done.buffer });
    assert.equal((await spinner.next()).slot, 1);
    await until(() => Atomics.load(done, 0) > 20_000, 'the spinner to count');
    spinner.worker.terminate();
    await spinner.exited;
    const a = StatsRegistry.attach(r.handle);
    const c = counterOf(a);
    let mine = 0;
    for (const end = Date.now() + 20; Date.now() < end; mine += 1000) for (let i = 0; i < 1000; i++) c.inc();
    Atomics.store(done, 1, 1); // stop, should the spinner still run
    const spun = await settled(() => Atomics.load(done, 0));
    const total = c.value();
    // The spinner adds, then tallies: terminated between the two, it added one more.
    assert.ok(total === mine + spun || total === mine + spun + 1, `round ${round}: total ${total}, expected ${mine} + ${spun} (the new holder's and the terminated worker's adds); slot ${a.slot}`);
    if (HANDS_BACK_TERMINATED) assert.equal(a.slot, 1, 'the new attachment took the terminated worker\'s stripe over');
    else assert.ok(a.slot >= STRIPES, `the terminated worker keeps its stripe (the new attachment has ${a.slot})`);
    rounds.push(a.slot);
  }
  return `a worker terminated mid-loop: counts exact in 5 rounds (new holder on stripe ${rounds.join(', ')})`;
}

async function terminatedWithChildren() {
  // main -> relay (attached) -> spinner (attached): terminating the relay. Where a
  // worker's own workers stop with it, both stripes come back; where they do not (Deno),
  // the spinner keeps counting on its stripe, which nobody else may get.
  const STRIPES = 4;
  const r = StatsRegistry.create({ stripes: STRIPES });
  const done = new Int32Array(new SharedArrayBuffer(8));
  const relay = start(SELF, { mode: 'relay', handle: r.handle, child: { mode: 'spin', handle: r.handle, done: done.buffer } });
  const slots = [(await relay.next()).slot, (await relay.next()).slot].sort();
  assert.deepEqual(slots, [1, 2]);
  await until(() => Atomics.load(done, 0) > 20_000, 'the spinner to count');
  await relay.worker.terminate();
  await relay.exited;
  const stillCounting = Atomics.load(done, 0) !== (await sleep(50), Atomics.load(done, 0));
  if (HANDS_BACK_TERMINATED) {
    assert.equal(stillCounting, false, 'the spinner stopped with the relay');
    await until(() => r.usage().slotsInUse === 1, 'the stripes of the relay and its child');
  } else {
    assert.ok(r.usage().slotsInUse >= 2, 'the running spinner keeps its stripe');
  }
  const b = StatsRegistry.attach(r.handle);
  const c = counterOf(b);
  for (let i = 0; i < 50_000; i++) c.inc();
  Atomics.store(done, 1, 1);
  const spun = await settled(() => Atomics.load(done, 0));
  const total = c.value();
  assert.ok(total === 50_000 + spun || total === 50_000 + spun + 1, `total ${total}, expected 50000 + ${spun}; the new attachment is on stripe ${b.slot}`);
  return `a terminated worker's own worker: ${stillCounting ? 'kept running, kept its stripe' : 'stopped with it, stripes back'}; counts exact`;
}

if (isMainThread) {
  // `churn.mjs [part...]` runs only the parts named (for a diagnosis).
  const only = process.argv.slice(2);
  for (const part of [normalAndTerminated, pool, terminatedWhileCounting, terminatedWithChildren]) {
    if (only.length > 0 && !only.includes(part.name)) continue;
    console.log(`churn (${RUNTIME}): ${await part()}`);
  }
} else if (workerData.mode === 'count') {
  const d = workerData;
  const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
  const c = counterOf(registry);
  for (let i = 0; i < d.count; i++) c.add(d.by);
  const report = { slot: registry.slot, threadId };
  if (d.end === 'close') registry.close();
  parentPort.postMessage(report);
  if (d.end === 'exit') process.exit(0);
  if (d.end === 'hold') setInterval(() => {}, 1 << 30);
} else if (workerData.mode === 'spin') {
  // Counts until stopped (done[1]) or terminated: add, then tally in done[0].
  const registry = StatsRegistry.attach(workerData.handle);
  const c = counterOf(registry);
  const done = new Int32Array(workerData.done);
  parentPort.postMessage({ slot: registry.slot });
  for (let i = 1; Atomics.load(done, 1) === 0; i++) {
    c.inc();
    Atomics.store(done, 0, i);
  }
} else if (workerData.mode === 'relay') {
  const registry = StatsRegistry.attach(workerData.handle);
  parentPort.postMessage({ slot: registry.slot });
  const child = new Worker(SELF, { workerData: workerData.child });
  child.on('message', (m) => parentPort.postMessage(m));
  setInterval(() => {}, 1 << 30);
}
