// A breaker's call record (total_calls, success_count or failure_count, and
// total_duration_nanos, on the thread's owned stripe) is whole or absent in a thread
// terminated at any instant, as the stats structs' records are
// (test/stats-killed-writer.threads.test.ts). Each call here takes 2^20 ns, so the duration cell carries into its high word every 16 records: the
// one place where a record once made a call (the carry) after storing its other cells, a
// point where V8 can act on a termination. One registry serves every round, so each
// round's writers take over the stripes the writers of the round before left, carries in
// flight included.
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { killRounds } from './helpers/workers.js';

const ROUNDS = 25;
const PER_ROUND = 4;
const NANOS = 1 << 20;

describe.each(BACKENDS)('breaker call records of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every record whole`, async () => {
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    const breaker = registry.circuitBreaker('killed.breaker');
    const { turns, broken } = await killRounds({
      rounds: ROUNDS,
      perRound: PER_ROUND,
      script: 'breaker-record-kill.mjs',
      data: { handle: registry.handle, backend, nanos: NANOS },
      // Wait until it records, then give it a few more turns, a different number each time.
      maxTurns: 400,
      afterRound: () => {
        const m = breaker.metricsBigInt();
        return m.total_calls !== m.success_count + m.failure_count || m.total_duration_nanos !== BigInt(NANOS) * m.total_calls;
      },
    });
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
