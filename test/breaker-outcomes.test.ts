/*
 * The breaker's per-call outcomes: shared counts of timeouts, fallbacks and aborted calls
 * (rejections are rejected_calls), the events of call() and callSync() in the calling
 * thread, and disable()/enable() shared by every registry object. Every backend.
 */
import { describe, expect, it } from 'vitest';
import { CallTimeoutError, CircuitOpenError, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock, breakerOn } from './helpers/breaker.js';
import { expectRejectedKeeping } from './helpers/metrics.js';

const never = () => new Promise<never>(() => {});

describe.each(BACKENDS)('breaker outcomes, %s backend', (backend) => {
  it('counts timeouts, fallbacks and aborts, in metrics and in every thread’s view', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const b = registry.circuitBreaker('api', { failureThreshold: 100 });
    await expect(b.call(never, { timeoutMs: 5 })).rejects.toBeInstanceOf(CallTimeoutError);
    await expect(b.call(never, { timeoutMs: 5, fallback: () => 'fb' })).resolves.toBe('fb');
    await expect(b.call(() => Promise.reject(new Error('x')), { fallback: () => 'fb2' })).resolves.toBe('fb2');
    const ac = new AbortController();
    const aborted = b.call(never, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    // An already-aborted signal asks nothing of the breaker: not an admitted call.
    await expect(b.call(async () => 1, { signal: AbortSignal.abort() })).rejects.toBeDefined();
    expect(b.metrics()).toMatchObject({ timeout_calls: 2, fallback_calls: 2, aborted_calls: 1, failure_count: 3, success_count: 0, rejected_calls: 0 });
    // Another registry object (another thread's view) reads the same shared counts.
    const other = StatsRegistry.attach(registry.handle, { backend }).circuitBreaker('api');
    expect(other.metricsBigInt()).toMatchObject({ timeout_calls: 2n, fallback_calls: 2n, aborted_calls: 1n });
    // A refusal's fallback is counted too, and the refusal in rejected_calls.
    b.forceOpen();
    await expect(b.call(async () => 1, { fallback: () => 'cached' })).resolves.toBe('cached');
    await expect(b.call(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(other.metrics()).toMatchObject({ fallback_calls: 3, rejected_calls: 2 });
  });

  it('emits success, failure, timeout, reject and fallback in the calling thread, synchronously as the call settles', async () => {
    const clock = new FakeClock();
    const { breaker: b } = breakerOn(backend, { failureThreshold: 100 }, clock);
    const seen: [string, unknown][] = [];
    const offs = (['success', 'failure', 'timeout', 'reject', 'fallback'] as const).map((e) => b.on(e, (ev) => seen.push([e, ev])));
    const err = new Error('boom');
    clock.advance(0);
    await b.call(async () => {
      clock.advance(3);
      return 1;
    });
    await b.call(() => Promise.reject(err)).catch(() => {});
    expect(b.callSync(() => 2)).toBe(2);
    const timeout = await b.call(never, { timeoutMs: 5, fallback: () => 'fb' });
    expect(timeout).toBe('fb');
    b.forceOpen();
    await b.call(async () => 1).catch(() => {});
    expect(() => b.callSync(() => 1)).toThrow(CircuitOpenError);
    expect(seen.map(([e]) => e)).toEqual(['success', 'failure', 'success', 'failure', 'timeout', 'fallback', 'reject', 'reject']);
    expect(seen[0]![1]).toEqual({ durationMs: 3 });
    expect(seen[1]![1]).toEqual({ error: err, durationMs: 0 });
    expect((seen[4]![1] as { error: unknown }).error).toBeInstanceOf(CallTimeoutError);
    expect((seen[5]![1] as { error: unknown }).error).toBe((seen[4]![1] as { error: unknown }).error);
    expect((seen[6]![1] as { error: unknown }).error).toBeInstanceOf(CircuitOpenError);
    // Unsubscribed: nothing more, and unsubscribing twice is harmless.
    for (const off of offs) {
      off();
      off();
    }
    b.forceClosed();
    await b.call(async () => 1);
    expect(seen).toHaveLength(8);
  });

  it('the guard emits nothing; a listener that throws changes no outcome', async () => {
    const { breaker: b } = breakerOn(backend);
    const seen: string[] = [];
    b.on('success', () => seen.push('success'));
    b.on('success', () => {
      throw new Error('listener bug');
    });
    expect(b.tryAcquire()).toBe(true);
    b.recordSuccess(1);
    expect(seen).toEqual([]);
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      await expect(b.call(async () => 'ok')).resolves.toBe('ok');
      await new Promise((r) => setTimeout(r, 5));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(seen).toEqual(['success']);
    expect(errors).toHaveLength(1);
    expect(b.metrics()).toMatchObject({ success_count: 2 });
  });

  it('on() with a bad event or listener throws InvalidOptionsError and adds nothing', async () => {
    const { breaker: b } = breakerOn(backend);
    const state = () => b.metricsBigInt();
    expectRejectedKeeping(state, () => b.on('open' as never, () => {}), InvalidOptionsError);
    expectRejectedKeeping(state, () => b.on('success', 'no' as never), InvalidOptionsError);
    expectRejectedKeeping(state, () => b.on(undefined as never, () => {}), InvalidOptionsError);
    const events = (b as unknown as { events: { count: number } }).events;
    expect(events.count).toBe(0);
  });

  it('disable() admits every call for every registry object, still counted; enable() restores the state’s rule', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const b = registry.circuitBreaker('api', { failureThreshold: 1 });
    const other = StatsRegistry.attach(registry.handle, { backend }).circuitBreaker('api');
    b.recordFailure(1);
    expect(b.state).toBe('Open');
    expect(other.tryAcquire()).toBe(false);
    other.disable();
    expect(b.disabled).toBe(true);
    expect(b.metrics()).toMatchObject({ disabled: true, rejected_calls: 1 });
    expect(b.tryAcquire()).toBe(true);
    b.recordSuccess(1);
    expect(b.acquirePermit()).toBeGreaterThan(0);
    await expect(b.call(async () => 'through')).resolves.toBe('through');
    expect(b.callSync(() => 'sync')).toBe('sync');
    await expect(other.call(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    // Passed straight through and counted; no refusal; the state is left as it was.
    expect(b.metrics()).toMatchObject({ current_state: 'Open', rejected_calls: 1, success_count: 3, failure_count: 2, total_calls: 5 });
    b.enable();
    expect(other.disabled).toBe(false);
    expect(other.tryAcquire()).toBe(false);
    await expect(other.call(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(b.metrics()).toMatchObject({ disabled: false, rejected_calls: 3 });
  });
});
