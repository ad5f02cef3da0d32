/*
 * The rate limiter in one thread, on every backend, on a fake clock: the bucket's size and
 * refill, tryAcquire never waiting, acquire's reservations (first come, first served),
 * maxWaitMs and RateLimitedError, aborts that give tokens back, typed errors that change
 * nothing, and the snapshot. The cross-thread invariants are in rate-limiter.threads.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, NameConflictError, RateLimitedError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock } from './helpers/breaker.js';
import { expectRejected } from './helpers/metrics.js';

describe.each(BACKENDS)('rate limiter, %s backend', (backend) => {
  const make = (config: Record<string, unknown>, clock = new FakeClock()) => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const limiter = registry.rateLimiter('geo', config, { clock: clock.read });
    return { registry, limiter, clock };
  };

  it('starts full (burst), refills at the rate, never above burst', () => {
    const { limiter, clock } = make({ tokensPerInterval: 10, intervalMs: 1000, burst: 3 });
    expect(limiter.metrics().tokens).toBe(3);
    expect([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()]).toEqual([true, true, true, false]);
    clock.advance(99);
    expect(limiter.tryAcquire()).toBe(false); // one token takes 100 ms
    clock.advance(1);
    expect(limiter.tryAcquire()).toBe(true);
    clock.advance(10_000);
    expect(limiter.metrics().tokens).toBe(3);
    expect(limiter.tryAcquire(3)).toBe(true);
    expect(limiter.tryAcquire(1)).toBe(false);
    expect(limiter.metrics()).toEqual({ tokens: 0, granted: 5, refused: 3, granted_tokens: 7, waited: 0, waited_ms_total: 0, aborted: 0 });
  });

  it('grants in any window of intervalMs never exceed tokensPerInterval + burst (fake clock, every ms)', () => {
    const { limiter, clock } = make({ tokensPerInterval: 20, intervalMs: 100, burst: 5 });
    const grants: number[] = [];
    for (let t = 0; t < 2000; t++) {
      while (limiter.tryAcquire()) grants.push(clock.now);
      clock.advance(1);
    }
    let worst = 0;
    for (let i = 0, j = 0; i < grants.length; i++) {
      while (grants[i]! - grants[j]! >= 100) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(25);
    expect(worst).toBeGreaterThan(20); // the burst is really there
    expect(grants.length).toBe(5 + 20 * 20 - 1); // burst + rate over 1999 ms (whole tokens)
  });

  it('acquire waits for reserved tokens in arrival order, and refuses beyond maxWaitMs with ERR_RATE_LIMITED', async () => {
    const { limiter } = make({ tokensPerInterval: 1, intervalMs: 20, burst: 1 }, new FakeClock());
    // A fake clock that stands still: every reservation is measured from the same now.
    await limiter.acquire(); // the full bucket's token
    const order: number[] = [];
    const a = limiter.acquire(1, { maxWaitMs: 100 }).then(() => order.push(1));
    const b = limiter.acquire(1, { maxWaitMs: 100 }).then(() => order.push(2));
    expect(limiter.tryAcquire()).toBe(false); // reservations are not overtaken
    const refused = limiter.acquire(1, { maxWaitMs: 30 }); // third in line: 60 ms away
    await expect(refused).rejects.toBeInstanceOf(RateLimitedError);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED', limiterName: 'geo', tokens: 1, retryAfterMs: 60 });
    await Promise.all([a, b]);
    expect(order).toEqual([1, 2]);
    expect(limiter.metrics()).toMatchObject({ granted: 3, refused: 2, waited: 2, waited_ms_total: 60, granted_tokens: 3 });
  });

  it('an abort while waiting rejects with the reason and gives the tokens back when nobody reserved after', async () => {
    const { limiter } = make({ tokensPerInterval: 1, intervalMs: 50, burst: 1 });
    expect(limiter.tryAcquire()).toBe(true);
    const ac = new AbortController();
    const waiting = limiter.acquire(1, { signal: ac.signal });
    const reason = new Error('gave up');
    ac.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    // Given back: the next request finds the same wait as the aborted one did.
    await expect(limiter.acquire(1, { maxWaitMs: 49 })).rejects.toMatchObject({ retryAfterMs: 50 });
    expect(limiter.metrics()).toMatchObject({ aborted: 1, refused: 1 });
    await expect(limiter.acquire(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(limiter.metrics()).toMatchObject({ granted: 2, refused: 1 });
  });

  it('bad input is a typed error that changes nothing', async () => {
    const { registry, limiter } = make({ tokensPerInterval: 5, intervalMs: 100 });
    for (const n of [0, -1, 1.5, 6, '1', null]) expectRejected(registry, () => limiter.tryAcquire(n as never), InvalidOptionsError);
    for (const [n, o] of [
      [0, undefined],
      [6, undefined],
      [1, { maxWaitMs: -1 }],
      [1, { maxWaitMs: 1.5 }],
      [1, { signal: 'x' }],
      [1, { wait: 1 }],
      [1, 5],
    ] as const) {
      const before = JSON.stringify(limiter.metrics());
      await expect(limiter.acquire(n as never, o as never)).rejects.toBeInstanceOf(InvalidOptionsError);
      expect(JSON.stringify(limiter.metrics())).toBe(before);
    }
    const bad: unknown[] = [
      {},
      { tokensPerInterval: 5 },
      { intervalMs: 100 },
      { tokensPerInterval: 0, intervalMs: 100 },
      { tokensPerInterval: 5, intervalMs: 0 },
      { tokensPerInterval: 5, intervalMs: 100, burst: 0 },
      { tokensPerInterval: 5, intervalMs: 100, burst: 2.5 },
      { tokensPerInterval: 5, intervalMs: 100, extra: 1 },
      'x',
    ];
    for (const config of bad) expectRejected(registry, () => registry.rateLimiter('other', config as never), InvalidOptionsError);
    expectRejected(registry, () => registry.rateLimiter('other'), InvalidOptionsError);
    expectRejected(registry, () => registry.rateLimiter('geo', { tokensPerInterval: 6, intervalMs: 100 }), NameConflictError);
    expect(registry.rateLimiter('geo').config).toEqual({ tokensPerInterval: 5, intervalMs: 100, burst: 5 });
  });

  it('a TAT far beyond any reservation (memory written over) is taken for a full bucket', () => {
    const { registry, limiter, clock } = make({ tokensPerInterval: 1, intervalMs: 1000, burst: 2 });
    const i64 = new BigInt64Array(registry.handle.memory.buffer);
    expect(limiter.tryAcquire()).toBe(true);
    // Find the bucket word: the one cell holding a TAT near the fake clock's now, in ns.
    const nowNs = BigInt(clock.now) * 1_000_000n;
    const idx = i64.findIndex((v) => v > nowNs && v <= nowNs + 2_000_000_000n);
    expect(idx).toBeGreaterThan(0);
    Atomics.store(i64, idx, 2n ** 62n);
    expect(limiter.metrics().tokens).toBe(2);
    expect(limiter.tryAcquire(2)).toBe(true);
  });

  it('registry.rateLimiters() lists every limiter', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    registry.rateLimiter('b', { tokensPerInterval: 1, intervalMs: 10 });
    registry.rateLimiter('a', { tokensPerInterval: 2, intervalMs: 10, burst: 4 });
    registry.bulkhead('not-a-limiter', { maxConcurrent: 1 });
    expect(registry.rateLimiters().map((l) => [l.name, l.config.burst])).toEqual([
      ['a', 4],
      ['b', 1],
    ]);
  });
});
