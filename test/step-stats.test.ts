import { describe, expect, it } from 'vitest';
import { InvalidCountError, InvalidOptionsError, NameConflictError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

describe.each(BACKENDS)('StepExecutionStats (%s backend)', (backend) => {
  describe.each([true, false])('striped=%s', (striped) => {
    const open = (name = 'steps') => StatsRegistry.create({ backend }).stepExecutionStats(name, { striped });

    it('starts at zero with average 0', () => {
      expect(open().snapshot()).toEqual({ total_executed: 0, total_succeeded: 0, total_failed: 0, average_execution_time_ms: 0 });
    });

    it('original test: successes of 100 and 200 ms -> 2/2/0, average 150', () => {
      const s = open();
      s.recordSuccess(100);
      s.recordSuccess(200);
      expect(s.snapshot()).toEqual({ total_executed: 2, total_succeeded: 2, total_failed: 0, average_execution_time_ms: 150 });
    });

    it('original test: successes of 100 and 200 ms plus one failure -> average 100 (failures count in the divisor)', () => {
      const s = open();
      s.recordSuccess(100);
      s.recordSuccess(200);
      s.recordFailure();
      expect(s.snapshot()).toEqual({ total_executed: 3, total_succeeded: 2, total_failed: 1, average_execution_time_ms: 100 });
    });

    it('keeps durations of 2^32 ms and more exactly (the high half of the cell)', () => {
      const s = open();
      s.recordSuccess(2 ** 32 + 5);
      s.recordSuccess(2 ** 32 - 1);
      expect(s.totalExecutionTimeMs()).toBe(2n ** 33n + 4n);
      expect(s.snapshot().average_execution_time_ms).toBe(2 ** 32 + 2);
    });

    it('a total time above 2^53 - 1 stays exact in the BigInt read and the average is still a float', () => {
      const s = open();
      s.recordSuccess(Number.MAX_SAFE_INTEGER);
      s.recordSuccess(Number.MAX_SAFE_INTEGER);
      expect(s.totalExecutionTimeMs()).toBe(2n * BigInt(Number.MAX_SAFE_INTEGER));
      expect(s.snapshotBigInt()).toEqual({ total_executed: 2n, total_succeeded: 2n, total_failed: 0n, average_execution_time_ms: Number.MAX_SAFE_INTEGER });
      expect(s.snapshot().average_execution_time_ms).toBe(Number.MAX_SAFE_INTEGER);
    });

    it.each([-1, 1.5, Number.NaN, Infinity, 2 ** 53, '5', undefined, null, 10n])('recordSuccess(%s) throws InvalidCountError and changes nothing', (bad) => {
      const s = open();
      s.recordSuccess(7);
      s.recordFailure();
      const before = s.snapshotBigInt();
      const time = s.totalExecutionTimeMs();
      expect(() => s.recordSuccess(bad as number)).toThrow(InvalidCountError);
      expect(s.snapshotBigInt()).toEqual(before);
      expect(s.totalExecutionTimeMs()).toBe(time);
    });

    it('durations just below 2^30 stay on the owned path and carry exactly', () => {
      const s = open();
      for (let i = 0; i < 20; i++) s.recordSuccess(2 ** 30 - 1);
      expect(s.totalExecutionTimeMs()).toBe(20n * (2n ** 30n - 1n));
      s.recordSuccess(2 ** 30);
      expect(s.totalExecutionTimeMs()).toBe(21n * 2n ** 30n - 20n);
      expect(s.snapshot().total_succeeded).toBe(21);
    });

    it('counts past 2^24 carry exactly in every field (records that carry go whole through the carrying path)', () => {
      const s = open();
      const n = 2 ** 24 + 3;
      for (let i = 0; i < n; i++) {
        s.recordSuccess(1);
        s.recordFailure();
      }
      const N = BigInt(n);
      expect(s.snapshotBigInt()).toEqual({ total_executed: 2n * N, total_succeeded: N, total_failed: N, average_execution_time_ms: 0.5 });
      expect(s.totalExecutionTimeMs()).toBe(N);
    }, 60_000);

    it('a success of 0 ms counts the execution and adds no time', () => {
      const s = open();
      s.recordSuccess(0);
      s.recordSuccess(10);
      expect(s.snapshot()).toEqual({ total_executed: 2, total_succeeded: 2, total_failed: 0, average_execution_time_ms: 5 });
    });

    it('snapshot DTO has exactly the spec keys and serializes to JSON', () => {
      const s = open();
      s.recordSuccess(1);
      expect(Object.keys(s.snapshot())).toEqual(['total_executed', 'total_succeeded', 'total_failed', 'average_execution_time_ms']);
      expect(JSON.parse(JSON.stringify(s.snapshot()))).toEqual(s.snapshot());
    });
  });

  it('is shared by name: every attachment (and each backend) records into the same cells', () => {
    const a = StatsRegistry.create({ backend });
    const b = StatsRegistry.attach(a.handle, { backend: 'wasm' });
    const c = StatsRegistry.attach(a.handle, { backend: 'js' });
    a.stepExecutionStats('shared').recordSuccess(10);
    b.stepExecutionStats('shared').recordSuccess(20);
    c.stepExecutionStats('shared').recordFailure();
    for (const r of [a, b, c]) {
      expect(r.stepExecutionStats('shared').snapshot()).toEqual({ total_executed: 3, total_succeeded: 2, total_failed: 1, average_execution_time_ms: 10 });
    }
    expect(a.stepExecutionStats('shared')).toBe(a.stepExecutionStats('shared'));
  });

  it('attachments beyond the stripe count add to the shared stripe and are still counted', () => {
    const a = StatsRegistry.create({ backend, stripes: 1 });
    const b = StatsRegistry.attach(a.handle, { backend });
    expect(b.slot).toBeGreaterThanOrEqual(a.stripes);
    a.stepExecutionStats('x').recordSuccess(3);
    b.stepExecutionStats('x').recordSuccess(5);
    expect(a.stepExecutionStats('x').snapshot().total_succeeded).toBe(2);
    expect(a.stepExecutionStats('x').totalExecutionTimeMs()).toBe(8n);
  });

  it('a name used by another kind or another striping is a NameConflictError', () => {
    const r = StatsRegistry.create({ backend });
    r.counters('taken', ['a']);
    expect(() => r.stepExecutionStats('taken')).toThrow(NameConflictError);
    r.stepExecutionStats('striped');
    expect(() => r.stepExecutionStats('striped', { striped: false })).toThrow(NameConflictError);
    expect(() => r.eventBusStats('striped')).toThrow(NameConflictError);
    const other = StatsRegistry.attach(r.handle, { backend });
    expect(() => other.workerSubscriberStats('striped')).toThrow(NameConflictError);
  });

  it('bad names and options are InvalidOptionsError', () => {
    const r = StatsRegistry.create({ backend });
    expect(() => r.stepExecutionStats('')).toThrow(InvalidOptionsError);
    expect(() => r.stepExecutionStats(5 as unknown as string)).toThrow(InvalidOptionsError);
    expect(() => r.stepExecutionStats('a', { striped: 'yes' as unknown as boolean })).toThrow(InvalidOptionsError);
    expect(() => r.stepExecutionStats('a', { stripes: 3 } as never)).toThrow(InvalidOptionsError);
    expect(r.usage().entries).toBe(0);
  });

  it('is listed in the registry entries as a step execution stats set', () => {
    const r = StatsRegistry.create({ backend });
    r.stepExecutionStats('listed');
    expect(r.entries()).toEqual([
      {
        name: 'listed',
        kind: 'stepExecutionStats',
        descriptor: { fields: ['total_executed', 'total_succeeded', 'total_failed', 'total_execution_time_ms'], striped: true },
      },
    ]);
  });
});
