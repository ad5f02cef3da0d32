// isHealthy() and the registry view's unhealthy_circuits judge a breaker on its recent
// record, not its lifetime counts: a breaker that recovered is healthy again. "Recent" is
// the current run of failures (less than half the failureThreshold) and, with the rate
// policy on, the rate window (fewer than 10 calls or fewer than 10% failures).
import { describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { breakerOn } from './helpers/breaker.js';

describe.each(BACKENDS)('breaker health (%s backend)', (backend) => {
  it('a breaker that failed, opened and recovered is healthy again, whatever its lifetime failure rate', () => {
    const { registry, breaker, clock } = breakerOn(backend, { failureThreshold: 3, timeoutMs: 100, successThreshold: 2 });
    for (let i = 0; i < 7; i++) breaker.recordSuccess(1);
    for (let i = 0; i < 3; i++) breaker.recordFailure(1);
    expect(breaker.state).toBe('Open');
    expect(breaker.isHealthy()).toBe(false);
    clock.advance(100);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.isHealthy()).toBe(false); // HalfOpen
    breaker.recordSuccess(1);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordSuccess(1);
    expect(breaker.state).toBe('Closed');
    const m = breaker.metrics();
    expect(m.failure_rate).toBe(3 / 12); // the lifetime rate, well above 10%
    expect(breaker.isHealthy()).toBe(true);
    const view = registry.circuitBreakerMetrics();
    expect(view.unhealthy_circuits).toEqual([]);
    expect(view.health_score).toBe(1);
  });

  it('without the rate policy: unhealthy from half the failureThreshold in a row, healthy again after a success', () => {
    const { registry, breaker } = breakerOn(backend, { failureThreshold: 5 });
    for (let i = 0; i < 2; i++) breaker.recordFailure(1);
    expect(breaker.isHealthy()).toBe(true); // 2 of 5: not half way
    breaker.recordFailure(1);
    expect(breaker.state).toBe('Closed');
    expect(breaker.isHealthy()).toBe(false); // 3 of 5
    expect(registry.circuitBreakerMetrics().unhealthy_circuits).toEqual(['test']);
    breaker.recordSuccess(1);
    expect(breaker.metrics().failure_rate).toBe(3 / 4);
    expect(breaker.isHealthy()).toBe(true);
    expect(registry.circuitBreakerMetrics().unhealthy_circuits).toEqual([]);
  });

  it.each([
    [1, [0], [1]],
    [2, [0], [1]],
    [4, [0, 1], [2, 3]],
    [100, [0, 49], [50, 99]],
  ])('failureThreshold %i: healthy with %j failures in a row, not with %j', (failureThreshold, healthyRuns, unhealthyRuns) => {
    for (const [runs, expected] of [
      [healthyRuns, true],
      [unhealthyRuns, false],
    ] as const) {
      for (const n of runs) {
        const { breaker } = breakerOn(backend, { failureThreshold });
        for (let i = 0; i < n; i++) breaker.recordFailure(1);
        expect(breaker.isHealthy(), `${n} failures`).toBe(expected && breaker.state === 'Closed');
      }
    }
  });

  it('with the rate policy: the window decides, and failures that aged out of it no longer count', () => {
    const { breaker, clock } = breakerOn(backend, { failureThreshold: 100, failureRateThreshold: 0.9, minimumCalls: 10, windowMs: 1000 });
    for (let i = 0; i < 9; i++) breaker.recordSuccess(1);
    breaker.recordFailure(1);
    expect(breaker.isHealthy()).toBe(false); // 1 of 10 in the window: 10%
    breaker.recordSuccess(1);
    expect(breaker.isHealthy()).toBe(true); // 1 of 11
    for (let i = 0; i < 4; i++) breaker.recordFailure(1);
    expect(breaker.metrics()).toMatchObject({ current_state: 'Closed', window_calls: 15, window_failures: 5 });
    expect(breaker.isHealthy()).toBe(false);
    clock.advance(2000);
    breaker.recordSuccess(1);
    expect(breaker.metrics()).toMatchObject({ window_calls: 1, window_failures: 0, failure_count: 5 });
    expect(breaker.metrics().failure_rate).toBe(5 / 16);
    expect(breaker.isHealthy()).toBe(true);
  });

  it('with the rate policy: a breaker the rate opened is healthy once it closes (the window restarts)', () => {
    const { breaker, clock } = breakerOn(backend, { failureThreshold: 100, failureRateThreshold: 0.5, minimumCalls: 10, windowMs: 60_000, timeoutMs: 100, successThreshold: 1 });
    for (let i = 0; i < 5; i++) breaker.recordSuccess(1);
    for (let i = 0; i < 5; i++) breaker.recordFailure(1);
    expect(breaker.state).toBe('Open');
    clock.advance(100);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordSuccess(1);
    expect(breaker.state).toBe('Closed');
    expect(breaker.metrics().window_failures).toBe(0);
    expect(breaker.isHealthy()).toBe(true);
  });
});
