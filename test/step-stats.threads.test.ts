// Worker threads recording into the same named step stats at once: exact totals.
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';

const THREADS = 4;
const N = 100_000;

describe.each(BACKENDS)('step stats from %s threads', (backend) => {
  it.each([true, false])('4 threads x 100,000 records, striped=%s: exact totals', async (striped) => {
    const registry = StatsRegistry.create({ backend });
    const stats = registry.stepExecutionStats('steps', { striped });
    await runWorkers('step-stress.mjs', THREADS, () => ({ handle: registry.handle, backend, name: 'steps', n: N, striped }));
    // Per thread: N/2 successes of (i % 100) ms for even i, N/2 failures.
    let time = 0;
    for (let i = 0; i < N; i += 2) time += i % 100;
    const executed = THREADS * N;
    expect(stats.snapshot()).toEqual({
      total_executed: executed,
      total_succeeded: executed / 2,
      total_failed: executed / 2,
      average_execution_time_ms: (THREADS * time) / executed,
    });
    expect(stats.totalExecutionTimeMs()).toBe(BigInt(THREADS * time));
  });
});
