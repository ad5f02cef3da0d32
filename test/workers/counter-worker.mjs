// Worker side of test/counter-sets.threads.test.ts. Each mode exercises the registry from a real
// worker thread; the main thread checks the exact totals afterwards.
import { workerData, parentPort } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });

function waitForStart() {
  const flag = new Int32Array(d.start);
  parentPort.postMessage('ready');
  Atomics.wait(flag, 0, 0);
}

if (d.mode === 'stress') {
  // d.plan: [{ set, fields, striped, field, count }]; interleave the steps so that all
  // counters are being hit at once rather than one after another.
  const steps = d.plan.map((p) => ({ counter: registry.counters(p.set, p.fields, { striped: p.striped }).counter(p.field), left: p.count, by: p.by ?? 1 }));
  waitForStart();
  let active = steps.length;
  while (active > 0) {
    active = 0;
    for (const s of steps) {
      const n = Math.min(s.left, 1000);
      if (n === 0) continue;
      active++;
      if (s.by === 1) for (let i = 0; i < n; i++) s.counter.inc();
      else for (let i = 0; i < n; i++) s.counter.add(s.by);
      s.left -= n;
    }
  }
  parentPort.postMessage({ slot: registry.slot });
} else if (d.mode === 'race') {
  // Get-or-create the same names as every other worker, at the same moment.
  waitForStart();
  for (const name of d.names) registry.counters(name, ['n'], { striped: d.striped }).counter('n').add(d.index + 1);
  parentPort.postMessage({ done: d.names.length });
} else if (d.mode === 'fault') {
  // Each iteration adds 1 to the shared total, then 1 to this worker's own counter.
  const total = registry.counters('fault', ['total'], { striped: d.striped }).counter('total');
  const mine = registry.counters(`fault-done-${d.index}`, ['done']).counter('done');
  waitForStart();
  for (let i = 0; i < d.iterations; i++) {
    total.inc();
    mine.inc();
  }
  parentPort.postMessage({ done: d.iterations });
} else if (d.mode === 'carry-writer') {
  // Every add(2^24 + 1) carries in this thread's owned cell (high += 1, low += 1), so
  // every value the cell and the sum of cells ever hold is a multiple of 2^24 + 1.
  const c = registry.counters('carry', ['v'], { striped: d.striped }).counter('v');
  waitForStart();
  for (let i = 0; i < d.iterations; i++) c.add(16777217);
  parentPort.postMessage({ done: d.iterations });
} else if (d.mode === 'carry-reader') {
  // Reads until told to stop. Every value a reader can legitimately see is a multiple
  // of 2^24 + 1; a torn read of any one cell (a high word with a low word from another
  // update) is not. Reads must also never go backwards: every cell only
  // grows, so a later sum of later reads cannot be smaller.
  const c = registry.counters('carry', ['v'], { striped: d.striped }).counter('v');
  const stop = new Int32Array(d.stop);
  waitForStart();
  let previous = 0n;
  let reads = 0;
  let violations = 0;
  let firstViolation = null;
  while (Atomics.load(stop, 0) === 0) {
    const v = c.valueBigInt();
    if (v % 16777217n !== 0n || v < previous || v > BigInt(d.max)) {
      violations++;
      firstViolation ??= `${previous} -> ${v}`;
    }
    previous = v;
    reads++;
  }
  parentPort.postMessage({ reads, violations, firstViolation });
}
