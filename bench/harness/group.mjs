// Runs one group: the variants of one table at one thread count, interleaved.
//
// Every variant gets its own `threads` worker threads, started once and kept for the
// whole group (each variant in its own isolates, so no variant's JIT feedback colours
// another's). Rounds are timed: each lasts roundMs (thread 0 stops it, see control.mjs),
// and its figure is its wall time over the operations all threads completed. Then:
//   1. warm-up: each variant runs rounds until it has run for warmMs, so V8 has tiered
//      its loop up before anything is measured; the last warm-up round also sets how
//      many chunks thread 0 runs between two clock reads (about every 20 us);
//   2. repetitions: each repetition runs one round of every variant, in an order rotated
//      by one on every repetition, so each ratio's two sides are measured seconds apart
//      at most and no variant always runs first or after the same neighbour.
// A round whose threads did not overlap (one was held up at the start or the end) is
// discarded and redone; a round that interference touched is redone; after maxRedo
// attempts the last one is kept but marked, and marked rounds never decide a verdict.
import { Worker } from 'node:worker_threads';
import { GO, ROUND_US, ARRIVED, DONE, READY, FAILED, STOP, STRIDE, STOP_ROUND, controlBytes, views } from './control.mjs';
import { judgeRound, machineCpu, processCpu } from './proc.mjs';

const workerUrl = new URL('./worker.mjs', import.meta.url);
const ROUND_TIMEOUT_MS = 120_000;

async function waitAtLeast(ctrl, word, target, failure) {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    const v = Atomics.load(ctrl, word);
    if (v >= target) return;
    if (Date.now() > deadline) throw new Error(`bench harness: threads did not finish within ${ROUND_TIMEOUT_MS} ms`);
    const w = Atomics.waitAsync(ctrl, word, v, 100);
    await Promise.race([w.async ? w.value : undefined, failure]);
  }
}

// Pushes the variant into `started` before waiting for its threads, so that the caller
// terminates them even when one fails to prepare.
async function startVariant(entry, groupThreads, started) {
  const { file, mod, c } = entry;
  // A mixThreads table's variants each have their own thread count.
  const threads = entry.threads ?? groupThreads;
  const data = await mod.setup(c.id, threads);
  const control = new SharedArrayBuffer(controlBytes(threads));
  const v = { ...entry, threads, data, control, ...views(control), round: 0, stride: 1, chunk: c.chunk ?? 1000, workers: [], reps: [] };
  const messages = [];
  let fail;
  v.failure = new Promise((_, reject) => (fail = reject));
  v.failure.catch(() => {});
  for (let index = 0; index < threads; index++) {
    const w = new Worker(workerUrl, { workerData: { file, id: c.id, data, index, control, chunk: v.chunk, threads } });
    messages.push(
      new Promise((resolve) => {
        let reported = false;
        w.once('message', (m) => {
          reported = true;
          resolve(m);
        });
        w.once('error', (err) => fail(new Error(`${c.id}: thread ${index} failed: ${err?.stack ?? err}`)));
        w.once('exit', (code) => reported || fail(new Error(`${c.id}: thread ${index} exited (code ${code}) before reporting`)));
      }),
    );
    v.workers.push(w);
  }
  v.messages = messages;
  started.push(v);
  await waitAtLeast(v.ctrl, READY, threads, v.failure);
  return v;
}

async function round(v, threads, ms) {
  const { ctrl, slots, slot } = v;
  Atomics.store(ctrl, ROUND_US, Math.round(ms * 1000));
  Atomics.store(ctrl, STRIDE, v.stride);
  Atomics.store(ctrl, ARRIVED, 0);
  Atomics.store(ctrl, DONE, 0);
  Atomics.store(ctrl, STOP, 0);
  const m0 = machineCpu();
  const p0 = processCpu();
  Atomics.store(ctrl, GO, ++v.round);
  Atomics.notify(ctrl, GO);
  await waitAtLeast(ctrl, DONE, threads, v.failure);
  if (Atomics.load(ctrl, FAILED)) await v.failure;
  const m1 = machineCpu();
  const p1 = processCpu();
  const machine = m0 && m1 ? { steal: m1.steal - m0.steal, others: Math.max(0, m1.busy - m0.busy - (p1 - p0)) } : undefined;
  const per = [];
  for (let i = 0; i < threads; i++) {
    per.push({
      start: slots[slot(i, 'start')],
      end: slots[slot(i, 'end')],
      ops: slots[slot(i, 'ops')],
      run: slots[slot(i, 'run')],
      wait: slots[slot(i, 'wait')],
      span: slots[slot(i, 'span')],
    });
  }
  return judgeRound(per, machine, v.c.blocks === true);
}

// Thread 0 reads the clock every `stride` chunks: about every 20 us, so that a 40 ns
// clock read costs 0.2% of the round, and the round overshoots by 20 us at most.
const CLOCK_EVERY_NS = 20_000;
const strideFor = (r) => {
  const chunkNs = r.wallNs / (r.ops[0] / r.chunk);
  return Math.max(1, Math.min(1 << 20, Math.round(CLOCK_EVERY_NS / chunkNs)));
};

/** Order of the variants in repetition `rep`: rotated left by rep. */
export function rotation(n, rep) {
  return Array.from({ length: n }, (_, i) => (i + rep) % n);
}

export async function runGroup(entries, threads, opts, log = () => {}) {
  const counts = { rounds: 0, warmup: 0, notOverlapped: 0, disturbed: 0, marked: 0 };
  const context = { othersNs: 0, wallNs: 0, stealNs: 0, worstWait: 0, blind: 0 };
  const variants = [];
  try {
    for (const e of entries) await startVariant(e, threads, variants);

    // 1. Warm-up, at least one round.
    for (const v of variants) {
      let ran = 0;
      do {
        const r = await round(v, v.threads, opts.roundMs);
        counts.warmup++;
        ran += r.wallNs;
        v.stride = strideFor({ ...r, chunk: v.chunk });
      } while (ran < opts.warmMs * 1e6);
    }

    // 2. Interleaved repetitions.
    for (let rep = 0; rep < opts.reps; rep++) {
      const order = rotation(variants.length, rep);
      for (const i of order) {
        const v = variants[i];
        for (let attempt = 0; ; ) {
          const r = await round(v, v.threads, opts.roundMs);
          counts.rounds++;
          context.othersNs += r.others;
          context.stealNs += r.steal;
          context.wallNs += r.wallNs;
          context.worstWait = Math.max(context.worstWait, r.worstWait);
          if (!r.sched) context.blind++;
          const overlapped = r.overlap >= opts.minOverlap;
          if (!overlapped) counts.notOverlapped++;
          else if (r.disturbed) counts.disturbed++;
          const bad = !overlapped || r.disturbed;
          if (bad && attempt < opts.maxRedo) {
            attempt++;
            continue;
          }
          if (bad) counts.marked++;
          v.reps[rep] = {
            nsPerOp: r.nsPerOp,
            marked: bad,
            why: !overlapped ? 'no overlap' : r.disturbed ? 'interference' : undefined,
            overlap: r.overlap,
            wallMs: r.wallNs / 1e6,
            worstWait: r.worstWait,
            worstRun: r.worstRun,
            ops: r.ops,
            position: order.indexOf(i),
          };
          break;
        }
      }
      log(rep);
    }

    // Stop the threads, collect their counts, and let each case check its final state.
    for (const v of variants) {
      Atomics.store(v.ctrl, GO, STOP_ROUND);
      Atomics.notify(v.ctrl, GO);
    }
    for (const v of variants) {
      const reports = await Promise.race([Promise.all(v.messages), v.failure]);
      const totalOps = reports.reduce((s, r) => s + r.completed, 0);
      await v.mod.verify(v.c.id, v.data, totalOps, reports.map((r) => r.report));
      v.totalOps = totalOps;
    }
  } finally {
    for (const v of variants) for (const w of v.workers) w.terminate();
  }
  return {
    table: entries[0].c.table,
    threads: Math.max(threads, ...variants.map((v) => v.threads)),
    mixedThreads: variants.some((v) => v.threads !== threads),
    counts,
    context: {
      othersCpus: context.wallNs > 0 ? context.othersNs / context.wallNs : 0,
      stealMs: context.stealNs / 1e6,
      worstWait: context.worstWait,
      // Rounds judged without the threads' scheduler counters (no /proc/thread-self).
      blindRounds: context.blind,
    },
    variants: variants.map((v) => ({
      id: v.c.id,
      variant: v.c.variant,
      baseline: v.c.baseline === true,
      threads: v.threads,
      ...(v.c.units ? { units: v.c.units, unit: v.c.unit } : {}),
      file: v.file,
      chunk: v.chunk,
      stride: v.stride,
      totalOps: v.totalOps,
      reps: v.reps,
    })),
  };
}
