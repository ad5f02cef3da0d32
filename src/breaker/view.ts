/*
 * The registry-wide view of breakers: every breaker any thread created, one snapshot of
 * them all, and forcing them all. Reads the shared directory only (no message to any
 * thread), so a breaker created a moment ago by another thread is included as soon as
 * its record is published.
 */
import { UnsafeIntegerError } from '../errors.js';
import type { RegistryCore } from '../registry-core.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerMetrics } from './metrics.js';
import { isHealthySnapshot } from './health.js';
import { circuitBreakerKind, openCircuitBreaker } from './kind.js';
import type { CircuitState } from './state.js';

/**
 * `registry.circuitBreakerMetrics()`: every breaker's snapshot and the totals over them,
 * with fixed snake_case keys.
 */
export interface SystemCircuitBreakerMetrics {
  /**
   * Each breaker's snapshot, by name (names in ascending order). An object with a null
   * prototype: every breaker name is an own key, `__proto__`, `constructor` and `toString`
   * included, `for…in` and `Object.keys` yield the breaker names only, and a name that no
   * breaker has reads as undefined. It serializes to JSON as a plain object.
   */
  circuit_breakers: Record<string, CircuitBreakerMetrics>;
  /** When the snapshot was taken: an ISO 8601 UTC timestamp (`Date#toISOString`). */
  collected_at: string;
  /** How many breakers are in each state. */
  count_by_state: Record<CircuitState, number>;
  /** Names of the breakers that are not healthy (as `isHealthy()` judges them, on their recent record), in ascending order. */
  unhealthy_circuits: string[];
  /** Healthy breakers / all breakers, from 0 to 1; 1 when there are none. */
  health_score: number;
  /** Sum of every breaker's total_calls. */
  total_calls: number;
  /** Sum of every breaker's failure_count. */
  total_failures: number;
  /** total_failures / total_calls; 0 when there were no calls. */
  system_failure_rate: number;
}

/** Every breaker of the registry, opened with the config it was created with. */
export function listCircuitBreakers(registry: RegistryCore): CircuitBreaker[] {
  return registry
    .entries()
    .filter((e) => e.kind === circuitBreakerKind.name)
    .map((e) => e.name)
    .sort()
    .map((name) => openCircuitBreaker(registry, name));
}

/**
 * One snapshot of every breaker. Each breaker's figures are its `metrics()` (so a count
 * above 2^53 - 1 throws UnsafeIntegerError, as there); health, the state counts and the
 * totals are derived from those same snapshots, so the DTO agrees with itself. Breakers
 * are read one after another: like each snapshot, the whole is not a transaction.
 */
export function systemBreakerMetrics(registry: RegistryCore): SystemCircuitBreakerMetrics {
  // A null prototype, not `{}`: on a plain object, assigning the name `__proto__` would set
  // its prototype instead of adding a key (dropping that breaker while still counting it,
  // and making for…in list the snapshot's fields), and `constructor` or `toString` would
  // read as present for a registry without such a breaker. A Map would fix both too, but
  // would serialize as `{}` in the JSON this DTO is for.
  const circuit_breakers = Object.create(null) as Record<string, CircuitBreakerMetrics>;
  const count_by_state: Record<CircuitState, number> = { Closed: 0, Open: 0, HalfOpen: 0 };
  const unhealthy_circuits: string[] = [];
  let calls = 0n;
  let failures = 0n;
  let total = 0;
  for (const breaker of listCircuitBreakers(registry)) {
    const m = breaker.metrics();
    circuit_breakers[breaker.name] = m;
    count_by_state[m.current_state]++;
    // Healthy as isHealthy() defines it, judged on this same snapshot.
    if (!isHealthySnapshot(m, breaker.config)) unhealthy_circuits.push(breaker.name);
    calls += BigInt(m.total_calls);
    failures += BigInt(m.failure_count);
    total++;
  }
  return {
    circuit_breakers,
    collected_at: new Date().toISOString(),
    count_by_state,
    unhealthy_circuits,
    health_score: total === 0 ? 1 : (total - unhealthy_circuits.length) / total,
    total_calls: safeSum(calls, 'total_calls'),
    total_failures: safeSum(failures, 'total_failures'),
    system_failure_rate: calls === 0n ? 0 : Number(failures) / Number(calls),
  };
}

function safeSum(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UnsafeIntegerError('circuit breakers', field);
  return Number(v);
}

/** Forces every breaker of the registry Open (`open`) or Closed; returns how many. */
export function forceAll(registry: RegistryCore, open: boolean): number {
  const breakers = listCircuitBreakers(registry);
  for (const b of breakers) {
    if (open) b.forceOpen();
    else b.forceClosed();
  }
  return breakers.length;
}
