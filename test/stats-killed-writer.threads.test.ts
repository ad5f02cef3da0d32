// A record of a stats struct is whole or absent in a thread terminated at any instant:
// a worker recording in a loop is terminated at random points, early (interpreted and
// baseline code, where every call is a real call and a point where V8 can act on the
// termination), and the struct's own identities must hold exactly afterwards. A record
// that made a call between two of its cells could be cut in half there.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const ROUNDS = 25;
const PER_ROUND = 4;

describe.each(BACKENDS)('stats records of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every record whole`, async () => {
    const registry = StatsRegistry.create({ backend });
    const steps = registry.stepExecutionStats('killed.steps');
    const subs = registry.workerSubscriberStats('killed.subs');
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let turns = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/stats-kill.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, progress: progress.buffer, index },
          }),
      );
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      for (let i = 0; i < PER_ROUND; i++) {
        // Wait until it records, then give it a few more turns, a different number each time.
        const target = 1 + Math.floor(Math.random() * 400);
        while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
        void workers[i]!.terminate();
      }
      await Promise.all(exited);
      for (let i = 0; i < PER_ROUND; i++) turns += Atomics.load(progress, i);
    }
    const s = steps.snapshotBigInt();
    const c = subs.snapshotBigInt();
    // The writers did run (at least every finished turn is counted)...
    expect(s.total_failed).toBeGreaterThanOrEqual(BigInt(turns));
    expect(c.completions_received).toBeGreaterThanOrEqual(BigInt(turns));
    // ...and no record was cut: each identity holds exactly.
    expect(s.total_executed).toBe(s.total_succeeded + s.total_failed);
    // The duration is the one cell a terminated writer may leave out (docs/worker-pools.md,
    // "Records of a terminated thread"): at most one success's 7 ms per terminated writer.
    const missing = 7n * s.total_succeeded - steps.totalExecutionTimeMs();
    expect(missing % 7n).toBe(0n);
    expect(missing >= 0n && missing <= 7n * BigInt(ROUNDS * PER_ROUND)).toBe(true);
    expect(c.completions_received).toBe(c.successful_completions + c.failed_completions);
    expect(c.successful_completions).toBe(0n);
    expect(c.conversion_errors).toBe(c.completions_received);
    expect(c.unmatched_correlations).toBe(c.completions_received);
  }, 120_000);
});
