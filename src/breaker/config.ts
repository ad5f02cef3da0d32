/*
 * Breaker configuration: validation, defaults and presets. The resolved config is part
 * of the breaker's registry descriptor, so every thread opening the same name must ask
 * for the same numbers (another config is a NameConflictError from the registry), and
 * the thresholds can be passed to the state machine on each call instead of being
 * stored (and raced on) in shared memory.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { checkOptionsObject } from '../options.js';
import { MAX_CALL_TIMEOUT_MS } from '../policy/timeout.js';

/** What a breaker is configured with; every field is optional when creating one. */
export interface CircuitBreakerConfig {
  /** Consecutive failures (while Closed) that open the breaker: an integer 1..100. Default 5. */
  failureThreshold?: number;
  /** How long the breaker stays Open before it admits a probe, in ms: an integer 1..300000. Default 30000. */
  timeoutMs?: number;
  /** Successful probes (while HalfOpen) that close it again, and the most probes admitted at once: an integer 1..50. Default 2. */
  successThreshold?: number;
  /**
   * The default timeout of `call`, in ms: an integer 1..3600000. Optional: absent, calls
   * have no timeout unless they ask for one (`call(fn, { timeoutMs })`).
   */
  callTimeoutMs?: number;
}

/** A complete, validated config. */
export interface ResolvedBreakerConfig {
  readonly failureThreshold: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  /** Present only when configured ("no timeout" is its absence, in the object and in the registry's descriptor). */
  readonly callTimeoutMs?: number;
}

const LIMITS = {
  failureThreshold: { min: 1, max: 100, def: 5 },
  timeoutMs: { min: 1, max: 300_000, def: 30_000 },
  successThreshold: { min: 1, max: 50, def: 2 },
  callTimeoutMs: { min: 1, max: MAX_CALL_TIMEOUT_MS, def: undefined },
} as const;
type Field = keyof typeof LIMITS;
const FIELDS = Object.keys(LIMITS) as Field[];

function preset(failureThreshold: number, timeoutMs: number, successThreshold: number) {
  return (overrides?: CircuitBreakerConfig): ResolvedBreakerConfig =>
    resolveConfig({ failureThreshold, timeoutMs, successThreshold, ...checkObject(overrides) });
}

/**
 * Presets for common dependencies, each returning a complete config (optionally with
 * some fields overridden):
 * `registry.circuitBreaker('orders-db', CircuitBreakerConfig.forDatabase())`.
 */
export const CircuitBreakerConfig = Object.freeze({
  /** failureThreshold 5, timeoutMs 30000, successThreshold 2 (the defaults). */
  defaults: preset(5, 30_000, 2),
  /** Databases: 5 failures, 30 s open, 2 probes. */
  forDatabase: preset(5, 30_000, 2),
  /** Message queues: 3 failures, 15 s open, 2 probes. */
  forQueue: preset(3, 15_000, 2),
  /** External HTTP APIs: 5 failures, 45 s open, 2 probes. */
  forExternalApi: preset(5, 45_000, 2),
});

function checkObject(config: unknown): CircuitBreakerConfig {
  return checkOptionsObject(config, FIELDS, 'config') as CircuitBreakerConfig;
}

/** Fills in defaults and validates; throws InvalidOptionsError naming the first bad field. */
export function resolveConfig(config: unknown): ResolvedBreakerConfig {
  const c = checkObject(config) as Record<string, unknown>;
  const out = {} as Record<Field, number | undefined>;
  for (const field of FIELDS) {
    const { min, max, def } = LIMITS[field];
    const v = c[field];
    if (v === undefined) {
      out[field] = def;
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidOptionsError(field, `must be an integer from ${min} to ${max}, got ${describe(v)}`);
    }
    out[field] = v;
  }
  // Fixed key order: the descriptor is compared as JSON text across threads.
  return Object.freeze({
    failureThreshold: out.failureThreshold!,
    timeoutMs: out.timeoutMs!,
    successThreshold: out.successThreshold!,
    // Left out when absent, so a config without it has the same descriptor as before it existed.
    ...(out.callTimeoutMs !== undefined ? { callTimeoutMs: out.callTimeoutMs } : {}),
  });
}
