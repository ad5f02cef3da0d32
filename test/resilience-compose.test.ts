/*
 * Stacking the breaker, the bulkhead and the rate limiter with each one's signal handed to
 * the next (docs/resilience.md): an abort or a timeout at the top reaches every layer
 * below, and every layer lets go of what it holds. Every backend. Also rateLimiter.call,
 * the limiter's side of the shared `call(fn, { signal })` shape.
 */
import { describe, expect, it } from 'vitest';
import { CallTimeoutError, InvalidOptionsError, RateLimitedError, StatsRegistry, type Bulkhead, type CircuitBreaker, type RateLimiter } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stack(breaker: CircuitBreaker, bulkhead: Bulkhead, limiter: RateLimiter) {
  return <T>(work: (signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal; timeoutMs?: number } = {}) =>
    breaker.call(({ signal }) => bulkhead.call(({ signal }) => limiter.call(({ signal }) => work(signal), { signal, maxWaitMs: 60_000 }), { signal }), options);
}

describe.each(BACKENDS)('the stack, %s backend', (backend) => {
  const setup = () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const breaker = registry.circuitBreaker('api', { failureThreshold: 100 });
    const bulkhead = registry.bulkhead('api-calls', { maxConcurrent: 1, maxQueued: 4 });
    const limiter = registry.rateLimiter('api-rate', { tokensPerInterval: 1, intervalMs: 60_000, burst: 1 });
    return { registry, breaker, bulkhead, limiter, guarded: stack(breaker, bulkhead, limiter) };
  };

  it('rateLimiter.call runs fn({ signal }) on a token, refuses with RateLimitedError without calling fn, checks its arguments', async () => {
    const { limiter } = setup();
    const ac = new AbortController();
    let got: AbortSignal | undefined;
    await expect(
      limiter.call(({ signal }) => {
        got = signal;
        return 'ran';
      }, { signal: ac.signal }),
    ).resolves.toBe('ran');
    expect(got).toBe(ac.signal);
    let ran = false;
    await expect(limiter.call(() => (ran = true), { maxWaitMs: 0 })).rejects.toBeInstanceOf(RateLimitedError);
    await expect(limiter.call(5 as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(limiter.call(() => (ran = true), { maxWaitMs: -5 })).rejects.toBeInstanceOf(InvalidOptionsError);
    expect(ran).toBe(false);
    expect(limiter.metrics()).toMatchObject({ granted: 1, refused: 1 });
  });

  it('a caller abort reaches the work; the bulkhead permit comes back and the breaker counts the abort', async () => {
    const { breaker, bulkhead, guarded } = setup();
    const ac = new AbortController();
    let seen: unknown;
    const p = guarded((signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve((seen = signal.reason)))), { signal: ac.signal });
    await sleep(2);
    expect(bulkhead.metrics().active).toBe(1);
    const reason = new Error('client left');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    await sleep(1);
    expect(seen).toBe(reason);
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0 });
    expect(breaker.metrics()).toMatchObject({ aborted_calls: 1, failure_count: 0, success_count: 0 });
  });

  it('a breaker timeout while waiting for a token aborts the wait (tokens back), frees the permit, and is a failure', async () => {
    const { breaker, bulkhead, limiter, guarded } = setup();
    expect(limiter.tryAcquire()).toBe(true); // the next token is a minute away
    let ran = false;
    const p = guarded(async () => {
      ran = true;
    }, { timeoutMs: 20 });
    await expect(p).rejects.toBeInstanceOf(CallTimeoutError);
    await sleep(1);
    expect(ran).toBe(false);
    expect(limiter.metrics()).toMatchObject({ aborted: 1 });
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0 });
    expect(breaker.metrics()).toMatchObject({ timeout_calls: 1, failure_count: 1 });
    // Given back: the next token is at most a minute away (not two: the reservation is undone).
    const err = (await limiter.acquire(1, { maxWaitMs: 0 }).catch((e: unknown) => e)) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('a caller abort while queued in the bulkhead frees the place; the work never runs', async () => {
    const { bulkhead, guarded } = setup();
    expect(bulkhead.tryAcquire()).toBe(true);
    const ac = new AbortController();
    let ran = false;
    const p = guarded(async () => {
      ran = true;
    }, { signal: ac.signal });
    await sleep(1);
    expect(bulkhead.metrics().queued).toBe(1);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(bulkhead.metrics()).toMatchObject({ queued: 0, queue_aborts: 1 });
    bulkhead.release();
    await sleep(1);
    expect(ran).toBe(false);
  });
});
