import { describe, expect, it } from 'vitest';
import { CircuitOpenError, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import type { HistogramValue } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock } from './helpers/breaker.js';

const FAMILY = 'atomic_stats_circuit_breaker_call_latency_seconds';

// The histogram series of one breaker, read through collect() as an exporter sees it.
function series(registry: StatsRegistry, name: string): HistogramValue | undefined {
  const family = registry.collect().find((f) => f.name === FAMILY);
  return family?.samples.find((s) => s.labels.name === name)?.value as HistogramValue | undefined;
}

describe.each(BACKENDS)('breaker call durations into a shared histogram (%s backend)', (backend) => {
  it('observes every recorded result exactly once, through the guard, call and callSync, a failure that opens it included', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const clock = new FakeClock();
    const b = registry.circuitBreaker('db', { failureThreshold: 2 }, { durations: true, clock: clock.read });
    // Durations exact in binary once divided: 0.5 s, 0.25 s, 2 s.
    b.recordSuccess(5e8);
    await b.call(() => {
      clock.advance(2000);
      return 1;
    });
    b.callSync(() => 2);
    b.recordFailure(2.5e8);
    // The second failure in a row opens the breaker: that record needs the clock (asked
    // twice), and must still be observed once.
    expect(() =>
      b.callSync(() => {
        throw new Error('down');
      }),
    ).toThrow('down');
    expect(b.state).toBe('Open');
    // A refusal records nothing, so it observes nothing.
    await expect(b.call(() => 3)).rejects.toBeInstanceOf(CircuitOpenError);
    const h = series(registry, 'db')!;
    expect(h.count).toBe(5n);
    expect(b.metrics().total_calls).toBe(5);
    expect(h.sum).toBe(0.5 + 2 + 0 + 0.25 + 0);
    expect(h.buckets.at(-1)!.count).toBe(5n);
  });

  it('with the rate window on, a success is observed once (it goes through the window)', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const b = registry.circuitBreaker('w', { failureRateThreshold: 0.5, minimumCalls: 100, windowMs: 1000 }, { durations: true });
    for (let i = 0; i < 7; i++) b.recordSuccess(1e6);
    b.recordFailure(1e6);
    expect(series(registry, 'w')!.count).toBe(8n);
  });

  it('is per thread: a breaker object opened without it observes nothing, and shares the same counters', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const timed = registry.circuitBreaker('db', undefined, { durations: true });
    const plain = StatsRegistry.attach(registry.handle, { backend }).circuitBreaker('db');
    timed.recordSuccess(1e9);
    plain.recordSuccess(1e9);
    expect(series(registry, 'db')!.count).toBe(1n);
    expect(timed.metrics().total_calls).toBe(2);
    // Without any thread asking for durations, there is no such family at all.
    const other = StatsRegistry.create({ backend });
    other.circuitBreaker('x').recordSuccess(1);
    expect(other.collect().some((f) => f.name === FAMILY)).toBe(false);
  });

  it('a bad durations option is refused and creates nothing', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const before = registry.usage();
    for (const bad of ['yes', 1, null]) {
      expect(() => registry.circuitBreaker('db', undefined, { durations: bad as never })).toThrow(InvalidOptionsError);
    }
    // A name too long to label a series of the histogram: refused before the breaker exists.
    expect(() => registry.circuitBreaker('n'.repeat(230), undefined, { durations: true })).toThrow(InvalidOptionsError);
    expect(registry.usage()).toEqual(before);
    expect(registry.entries()).toEqual([]);
  });
});
