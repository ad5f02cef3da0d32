// A breaker's call record (total_calls, success_count or failure_count, and
// total_duration_nanos, on the thread's owned stripe) is whole or absent in a thread
// terminated at any instant, as the stats structs' records are
// (test/stats-killed-writer.threads.test.ts). Each call here takes 2^20 ns, so the duration cell carries into its high word every 16 records: the
// one place where a record once made a call (the carry) after storing its other cells, a
// point where V8 can act on a termination. One registry serves every round, so each
// round's writers take over the stripes the writers of the round before left, carries in
// flight included.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const ROUNDS = 25;
const PER_ROUND = 4;
const NANOS = 1 << 20;

describe.each(BACKENDS)('breaker call records of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every record whole`, async () => {
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    const breaker = registry.circuitBreaker('killed.breaker');
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let turns = 0;
    let broken = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/breaker-record-kill.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, progress: progress.buffer, index, nanos: NANOS },
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
      const m = breaker.metricsBigInt();
      if (m.total_calls !== m.success_count + m.failure_count || m.total_duration_nanos !== BigInt(NANOS) * m.total_calls) broken++;
    }
    const m = breaker.metricsBigInt();
    expect({ broken, calls: m.total_calls, duration: m.total_duration_nanos }).toEqual({
      broken: 0,
      calls: m.success_count + m.failure_count,
      duration: BigInt(NANOS) * m.total_calls,
    });
    // Each worker finished its turns (a failure and a success each), and was cut inside one more at most.
    expect(m.success_count).toBeGreaterThanOrEqual(BigInt(turns));
    expect(m.failure_count).toBeGreaterThanOrEqual(BigInt(turns));
    expect(m.failure_count).toBeLessThanOrEqual(BigInt(turns + ROUNDS * PER_ROUND));
    expect(breaker.state).toBe('Closed');
  });
});
