// The registry-wide view of breakers: circuitBreakers(), circuitBreakerMetrics(),
// forceOpenAll() / forceClosedAll(), across attachments of one registry.
import { describe, expect, it } from 'vitest';
import { CircuitBreakerConfig, StatsRegistry, UnsafeIntegerError } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const SYSTEM_KEYS = [
  'circuit_breakers',
  'collected_at',
  'count_by_state',
  'unhealthy_circuits',
  'health_score',
  'total_calls',
  'total_failures',
  'system_failure_rate',
].sort();

describe.each(BACKENDS)('registry-wide breaker view (%s backend)', (backend) => {
  const setup = () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const other = StatsRegistry.attach(registry.handle, { backend });
    return { registry, other };
  };

  it('an empty registry: no breakers, health 1, rates 0', () => {
    const { registry } = setup();
    registry.counters('not-a-breaker', ['a']);
    expect(registry.circuitBreakers()).toEqual([]);
    const m = registry.circuitBreakerMetrics();
    expect(Object.keys(m).sort()).toEqual(SYSTEM_KEYS);
    expect(m).toMatchObject({
      circuit_breakers: {},
      count_by_state: { Closed: 0, Open: 0, HalfOpen: 0 },
      unhealthy_circuits: [],
      health_score: 1,
      total_calls: 0,
      total_failures: 0,
      system_failure_rate: 0,
    });
    expect(registry.forceOpenAll()).toBe(0);
    expect(registry.forceClosedAll()).toBe(0);
  });

  it('circuitBreakers() lists every breaker any thread created, by name, with its own config', () => {
    const { registry, other } = setup();
    registry.circuitBreaker('b', { failureThreshold: 2 });
    other.circuitBreaker('a', { timeoutMs: 500, callTimeoutMs: 50 });
    other.counters('c', ['x']);
    const list = registry.circuitBreakers();
    expect(list.map((b) => b.name)).toEqual(['a', 'b']);
    expect(list[0]!.config).toEqual(CircuitBreakerConfig.defaults({ failureThreshold: 5, timeoutMs: 500, successThreshold: 2, callTimeoutMs: 50 }));
    expect(list[1]!.config).toEqual(CircuitBreakerConfig.defaults({ failureThreshold: 2, timeoutMs: 30_000, successThreshold: 2 }));
    // The same objects the registry hands out by name in this thread.
    expect(list[1]).toBe(registry.circuitBreaker('b'));
    // Listing creates nothing.
    expect(registry.entries()).toHaveLength(3);
  });

  it('circuitBreakerMetrics(): snapshots, state counts, health and totals that agree with each other', () => {
    const { registry, other } = setup();
    const healthy = registry.circuitBreaker('healthy', { failureThreshold: 50 });
    const failing = other.circuitBreaker('failing', { failureThreshold: 50 });
    const open = registry.circuitBreaker('open', { failureThreshold: 1 });
    other.circuitBreaker('idle');
    for (let i = 0; i < 20; i++) healthy.recordSuccess(10);
    healthy.recordFailure(10); // 1 / 21 < 10%
    for (let i = 0; i < 8; i++) failing.recordSuccess(10);
    for (let i = 0; i < 25; i++) failing.recordFailure(10); // 25 in a row, half its threshold: unhealthy
    open.recordFailure(10);
    expect(open.tryAcquire()).toBe(false);

    const before = Date.now();
    const m = registry.circuitBreakerMetrics();
    const after = Date.now();
    expect(Object.keys(m).sort()).toEqual(SYSTEM_KEYS);
    expect(Object.keys(m.circuit_breakers)).toEqual(['failing', 'healthy', 'idle', 'open']);
    expect(m.circuit_breakers.healthy).toEqual(healthy.metrics());
    expect(m.circuit_breakers.open).toMatchObject({ current_state: 'Open', rejected_calls: 1, failure_count: 1 });
    expect(m.count_by_state).toEqual({ Closed: 3, Open: 1, HalfOpen: 0 });
    expect(m.unhealthy_circuits).toEqual(['failing', 'open']);
    expect(m.health_score).toBe(0.5);
    expect(m.total_calls).toBe(21 + 33 + 1);
    expect(m.total_failures).toBe(1 + 25 + 1);
    expect(m.system_failure_rate).toBe(27 / 55);
    expect(m.unhealthy_circuits).toEqual(
      Object.keys(m.circuit_breakers).filter((n) => !registry.circuitBreaker(n).isHealthy()),
    );
    // collected_at: an ISO 8601 UTC timestamp of the read.
    expect(m.collected_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const t = Date.parse(m.collected_at);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    // Another thread sees the same figures.
    expect({ ...other.circuitBreakerMetrics(), collected_at: m.collected_at }).toEqual(m);
  });

  it('breakers named __proto__, constructor, toString are keys like any other; for…in yields breaker names only', () => {
    const { registry, other } = setup();
    const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', 'x'];
    for (const [i, n] of names.entries()) (i % 2 === 0 ? registry : other).circuitBreaker(n, { failureThreshold: 1 });
    registry.circuitBreaker('__proto__').recordFailure(10); // Open, unhealthy
    registry.circuitBreaker('toString').recordSuccess(10);
    const m = registry.circuitBreakerMetrics();
    const cb = m.circuit_breakers;
    expect(Object.getPrototypeOf(cb)).toBeNull();
    expect(Object.keys(cb)).toEqual(names);
    const viaForIn: string[] = [];
    for (const k in cb) viaForIn.push(k);
    expect(viaForIn).toEqual(names);
    for (const n of names) {
      expect(Object.hasOwn(cb, n)).toBe(true);
      expect(cb[n]).toEqual(registry.circuitBreaker(n).metrics());
    }
    expect(cb.__proto__).toMatchObject({ current_state: 'Open', failure_count: 1 });
    expect(cb.toString).toMatchObject({ current_state: 'Closed', success_count: 1 });
    // The state counts count exactly the breakers listed.
    expect(m.count_by_state).toEqual({ Closed: 5, Open: 1, HalfOpen: 0 });
    expect(Object.values(m.count_by_state).reduce((a, b) => a + b)).toBe(Object.keys(cb).length);
    expect(m.unhealthy_circuits).toEqual(['__proto__']);
    expect(m.total_calls).toBe(2);
    // A name no breaker has reads as absent, not as Object.prototype's member.
    const empty = setup().registry.circuitBreakerMetrics().circuit_breakers;
    expect(empty.toString).toBeUndefined();
    expect('constructor' in empty).toBe(false);
    // The JSON keeps every name as a key.
    const json = JSON.parse(JSON.stringify(m)) as typeof m;
    expect(Object.keys(json.circuit_breakers)).toEqual(names);
    expect(Object.hasOwn(json.circuit_breakers, '__proto__')).toBe(true);
  });

  it('a count above 2^53 - 1 throws UnsafeIntegerError, as metrics() does', () => {
    const { registry } = setup();
    registry.circuitBreaker('big').recordSuccess(2 ** 53);
    expect(() => registry.circuitBreakerMetrics()).toThrow(UnsafeIntegerError);
  });

  it('forceOpenAll / forceClosedAll reach every breaker, whichever thread created it', () => {
    const { registry, other } = setup();
    const a = registry.circuitBreaker('a');
    const b = other.circuitBreaker('b', { failureThreshold: 1 });
    const counters = registry.counters('c', ['x']);
    counters.counter('x').inc();
    expect(other.forceOpenAll()).toBe(2);
    expect([a.state, b.state]).toEqual(['Open', 'Open']);
    expect(registry.circuitBreakerMetrics().count_by_state).toEqual({ Closed: 0, Open: 2, HalfOpen: 0 });
    expect(a.metrics().times_opened).toBe(1);
    expect(registry.forceClosedAll()).toBe(2);
    expect([a.state, b.state]).toEqual(['Closed', 'Closed']);
    expect(registry.circuitBreakerMetrics().health_score).toBe(1);
    expect(counters.snapshot()).toEqual({ x: 1 });
  });
});
