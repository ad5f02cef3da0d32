/*
 * Breaker configuration: validation, defaults and presets. The resolved config is part
 * of the breaker's registry descriptor, so every thread opening the same name must ask
 * for the same numbers (another config is a NameConflictError from the registry), and
 * the thresholds can be passed to the state machine on each call instead of being
 * stored (and raced on) in shared memory.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { checkIntIn, checkOptionsObject } from '../validate.js';
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
   * How long a half-open period may wait for its probes' results, in ms from its first
   * probe: an integer 1..3600000. Default 60000. Past it, a probe still unrecorded counts
   * as a failed probe and the breaker reopens. See docs/circuit-breaker.md, "Probe lease".
   */
  probeLeaseMs?: number;
  /**
   * Turns on rate-based opening: a Closed breaker also opens when, over the last
   * `windowMs`, at least `minimumCalls` calls were recorded (by all threads together) and
   * failures / calls >= this. A number in (0, 1]. Default: off (`null` also means off).
   */
  failureRateThreshold?: number | null;
  /** Calls the rate window needs before it can open the breaker: an integer 1..1000000. Default 10. Needs failureRateThreshold. */
  minimumCalls?: number | null;
  /** Length of the rate window in ms: an integer 100..3600000. Default 60000. Needs failureRateThreshold. */
  windowMs?: number | null;
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
  readonly probeLeaseMs: number;
  /** null: the rate policy is off (and so are minimumCalls and windowMs). */
  readonly failureRateThreshold: number | null;
  readonly minimumCalls: number | null;
  readonly windowMs: number | null;
  /** Present only when configured ("no timeout" is its absence, in the object and in the registry's descriptor). */
  readonly callTimeoutMs?: number;
}

const LIMITS = {
  failureThreshold: { min: 1, max: 100, def: 5 },
  timeoutMs: { min: 1, max: 300_000, def: 30_000 },
  successThreshold: { min: 1, max: 50, def: 2 },
  // 60 s: longer than the usual client-side timeouts of a remote call (so a slow probe
  // that does answer is not cut short), short enough that a lost probe fences the
  // dependency off for about a minute rather than until someone forces the breaker.
  probeLeaseMs: { min: 1, max: 3_600_000, def: 60_000 },
  // The rate policy's integers; they apply only with failureRateThreshold.
  minimumCalls: { min: 1, max: 1_000_000, def: 10 },
  windowMs: { min: 100, max: 3_600_000, def: 60_000 },
  callTimeoutMs: { min: 1, max: MAX_CALL_TIMEOUT_MS, def: undefined },
} as const;
type Field = keyof typeof LIMITS;
const RATE_INTEGERS: readonly Field[] = ['minimumCalls', 'windowMs'];
const FIELDS = [...(Object.keys(LIMITS) as Field[]), 'failureRateThreshold'];

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
  const rate = c.failureRateThreshold ?? null;
  if (rate !== null && !(typeof rate === 'number' && rate > 0 && rate <= 1)) {
    throw new InvalidOptionsError('failureRateThreshold', `must be a number greater than 0 and at most 1, got ${describe(rate)}`);
  }
  for (const field of Object.keys(LIMITS) as Field[]) {
    const { min, max, def } = LIMITS[field];
    let v = c[field];
    if (RATE_INTEGERS.includes(field)) {
      if (v === null) v = undefined;
      if (v !== undefined && rate === null) throw new InvalidOptionsError(field, 'applies only to the rate policy: set failureRateThreshold too');
    }
    if (v === undefined) {
      out[field] = def;
      continue;
    }
    out[field] = checkIntIn(v, field, min, max);
  }
  // Fixed key order: the descriptor is compared as JSON text across threads.
  return Object.freeze({
    failureThreshold: out.failureThreshold!,
    timeoutMs: out.timeoutMs!,
    successThreshold: out.successThreshold!,
    probeLeaseMs: out.probeLeaseMs!,
    failureRateThreshold: rate,
    minimumCalls: rate === null ? null : out.minimumCalls!,
    windowMs: rate === null ? null : out.windowMs!,
    // Left out when absent, so a config without it has the same descriptor as before it existed.
    ...(out.callTimeoutMs !== undefined ? { callTimeoutMs: out.callTimeoutMs } : {}),
  });
}
