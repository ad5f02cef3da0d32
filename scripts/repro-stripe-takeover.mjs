// Reproduces an open issue: a stripe taken over from a thread terminated while recording
// can lose one increment of one cell (docs/worker-pools.md, "Known issue").
//
//   npm run build && node scripts/repro-stripe-takeover.mjs [auto|wasm|js] [ms]
//   FRESH=1 node scripts/repro-stripe-takeover.mjs js   # a registry per round: no takeover
//
// Each round starts 4 workers that record step stats in a loop (recordFailure,
// recordSuccess(ms), a four-cell completion), terminates each after a random number of
// turns, and checks total_executed == succeeded + failed and time == ms * succeeded.
// Seen on Node 20, 2 vCPUs: with 'js' or 'auto', a round breaks one of them (by exactly one
// increment of the record's last cell) in about 3 runs of 4 (150 rounds each); with 'wasm',
// or with FRESH=1, never. Time first in stepSuccess moved the loss to stepFailure's last cell.
import { Worker } from 'node:worker_threads';
import { StatsRegistry } from '../dist/index.js';

const backend = process.argv[2] ?? 'auto';
const MS = Number(process.argv[3] ?? 7);
const workerUrl = new URL('../test/workers/stats-kill.mjs', import.meta.url);
let registry = StatsRegistry.create({ backend });
let steps = registry.stepExecutionStats('killed.steps');
const progress = new Int32Array(new SharedArrayBuffer(16));
for (let round = 0; round < 150; round++) {
  if (process.env.FRESH) {
    registry = StatsRegistry.create({ backend });
    steps = registry.stepExecutionStats('killed.steps');
  }
  progress.fill(0);
  const workers = Array.from({ length: 4 }, (_, index) => new Worker(workerUrl, { workerData: { handle: registry.handle, backend, progress: progress.buffer, index, ms: MS } }));
  const exited = workers.map((w) => new Promise((r) => w.once('exit', r)));
  for (let i = 0; i < 4; i++) {
    const target = 1 + Math.floor(Math.random() * 400);
    while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
    void workers[i].terminate();
  }
  await Promise.all(exited);
  const s = steps.snapshotBigInt();
  const t = steps.totalExecutionTimeMs();
  const execGap = s.total_executed - s.total_succeeded - s.total_failed;
  const timeGap = t - BigInt(MS) * s.total_succeeded;
  if (execGap !== 0n || timeGap !== 0n) {
    console.log(`round ${round}: executed - succeeded - failed = ${execGap}, time - ms * succeeded = ${timeGap}`);
    process.exit(1);
  }
}
console.log(`${backend}: 150 rounds, no increment lost`);
