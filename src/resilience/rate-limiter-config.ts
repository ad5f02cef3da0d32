/*
 * A rate limiter's configuration: validated, with defaults filled in. The resolved config
 * is the limiter's registry descriptor, so every thread opening the same name asks for
 * the same numbers (another config is a NameConflictError).
 */
import { InvalidOptionsError } from '../errors.js';
import { checkIntIn, checkOptionsObject } from '../validate.js';

/** What a rate limiter is configured with; `tokensPerInterval` and `intervalMs` are required to create one. */
export interface RateLimiterConfig {
  /** Tokens added per interval, all threads together: an integer 1..1000000000. */
  tokensPerInterval?: number;
  /** The interval, in ms: an integer 1..86400000. */
  intervalMs?: number;
  /**
   * The bucket's size: tokens that may be taken at once after a quiet spell, an integer
   * 1..1000000000. Default `tokensPerInterval`. Grants in any window of `intervalMs` never
   * exceed `tokensPerInterval + burst`.
   */
  burst?: number;
}

/** A complete, validated rate limiter config. */
export interface ResolvedRateLimiterConfig {
  readonly tokensPerInterval: number;
  readonly intervalMs: number;
  readonly burst: number;
}

const KEYS = ['tokensPerInterval', 'intervalMs', 'burst'];
export const MAX_TOKENS = 1_000_000_000;
export const MAX_INTERVAL_MS = 86_400_000;

/** Validates a config (the user's, or one read back from a record's signature). */
export function resolveRateLimiterConfig(config: unknown): ResolvedRateLimiterConfig {
  const o = checkOptionsObject(config, KEYS, 'config');
  if (o.tokensPerInterval === undefined) throw new InvalidOptionsError('tokensPerInterval', `is required to create a rate limiter (an integer 1..${MAX_TOKENS})`);
  if (o.intervalMs === undefined) throw new InvalidOptionsError('intervalMs', `is required to create a rate limiter (an integer 1..${MAX_INTERVAL_MS})`);
  const tokensPerInterval = checkIntIn(o.tokensPerInterval, 'tokensPerInterval', 1, MAX_TOKENS);
  const intervalMs = checkIntIn(o.intervalMs, 'intervalMs', 1, MAX_INTERVAL_MS);
  const burst = o.burst === undefined ? tokensPerInterval : checkIntIn(o.burst, 'burst', 1, MAX_TOKENS);
  return Object.freeze({ tokensPerInterval, intervalMs, burst });
}
