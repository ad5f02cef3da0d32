// Runs a 'threads' case: T real worker_threads released together each round; the
// round's wall time over (T x ops per thread) is the aggregate ns per operation, so
// contention shows up as a higher figure and parallel speed-up as a lower one.
import { Worker } from 'node:worker_threads';
import { GO, READY, DONE, OPS, STOP_ROUND, CONTROL_BYTES } from './control.mjs';
import { summarize } from './stats.mjs';

const workerUrl = new URL('./threads-worker.mjs', import.meta.url);

async function waitFor(ctrl, word, target) {
  for (;;) {
    const v = Atomics.load(ctrl, word);
    if (v >= target) return;
    await Atomics.waitAsync(ctrl, word, v, 50).value;
  }
}

export async function runThreadsCase(file, mod, c, threads, opts) {
  const data = await mod.setup(c.id, threads);
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ctrl = new Int32Array(control);
  const chunk = c.chunk ?? 1000;
  const workers = [];
  const results = [];
  for (let index = 0; index < threads; index++) {
    const w = new Worker(workerUrl, { workerData: { file, id: c.id, data, index, control, chunk } });
    results.push(
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`${c.id}: worker exited with ${code}`)));
      }),
    );
    workers.push(w);
  }
  await Promise.race([waitFor(ctrl, READY, threads), ...results.map((p) => p.then(() => { throw new Error('worker ended early'); }))]);

  // Calibrate: a first round at a small size, then size rounds to about opts.roundMs.
  let ops = chunk * 10;
  const samples = [];
  const total = opts.warmup + opts.rounds + 1;
  for (let round = 1; round <= total; round++) {
    Atomics.store(ctrl, OPS, ops);
    Atomics.store(ctrl, DONE, 0);
    const t0 = process.hrtime.bigint();
    Atomics.store(ctrl, GO, round);
    Atomics.notify(ctrl, GO);
    // Blocking wait: this thread has nothing else to do, and waking from a futex is
    // far more precise than the event loop.
    for (let d = Atomics.load(ctrl, DONE); d < threads; d = Atomics.load(ctrl, DONE)) Atomics.wait(ctrl, DONE, d, 1000);
    const ns = Number(process.hrtime.bigint() - t0);
    if (round === 1) {
      const perOp = ns / (threads * ops);
      ops = Math.max(chunk, Math.round((opts.roundMs * 1e6 * threads) / perOp / threads / chunk) * chunk);
      continue;
    }
    if (round > 1 + opts.warmup) samples.push(ns / (threads * ops));
  }
  Atomics.store(ctrl, GO, STOP_ROUND);
  Atomics.notify(ctrl, GO);
  const reports = await Promise.all(results);
  const totalOps = reports.reduce((s, r) => s + r.completed, 0);
  await mod.verify(c.id, data, totalOps, reports.map((r) => r.report));
  return { ...summarize(samples), opsPerThreadPerRound: ops, totalOps };
}
