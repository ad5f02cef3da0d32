import { AtomicStatsError } from '../errors.js';

/**
 * A bulkhead call that was not admitted: every permit was held and the wait queue was full
 * (or the bulkhead has none), `reason: 'full'`; or it waited `queueTimeoutMs` in the queue
 * without getting a permit, `reason: 'timeout'`. The function was not called.
 */
export class BulkheadFullError extends AtomicStatsError {
  static override readonly code = 'ERR_BULKHEAD_FULL';
  declare readonly code: 'ERR_BULKHEAD_FULL';
  /** The bulkhead's name. */
  readonly bulkheadName: string;
  /** `'full'`: no permit and no place in the queue; `'timeout'`: the queue timeout passed. */
  readonly reason: 'full' | 'timeout';
  constructor(bulkheadName: string, reason: 'full' | 'timeout', detail: string) {
    super(
      'ERR_BULKHEAD_FULL',
      reason === 'timeout' ? `bulkhead "${bulkheadName}": no permit within the queue timeout (${detail})` : `bulkhead "${bulkheadName}" is full (${detail})`,
    );
    this.bulkheadName = bulkheadName;
    this.reason = reason;
  }
}

/**
 * A rate limiter refused tokens: `acquire` would have had to wait longer than its
 * `maxWaitMs` (or than the limiter's horizon). Nothing was taken from the bucket.
 */
export class RateLimitedError extends AtomicStatsError {
  static override readonly code = 'ERR_RATE_LIMITED';
  declare readonly code: 'ERR_RATE_LIMITED';
  /** The rate limiter's name. */
  readonly limiterName: string;
  /** The tokens asked for. */
  readonly tokens: number;
  /**
   * How long the acquisition would have waited for its tokens, in ms, when it was refused
   * (a hint for a `Retry-After`; later demand from other threads can make it longer).
   */
  readonly retryAfterMs: number;
  constructor(limiterName: string, tokens: number, retryAfterMs: number, maxWaitMs: number) {
    super('ERR_RATE_LIMITED', `rate limiter "${limiterName}": ${tokens} token${tokens === 1 ? '' : 's'} would take ${Math.ceil(retryAfterMs)} ms, more than the ${maxWaitMs} ms allowed`);
    this.limiterName = limiterName;
    this.tokens = tokens;
    this.retryAfterMs = retryAfterMs;
  }
}
