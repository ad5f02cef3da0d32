/*
 * The RateLimiter object one thread holds: tryAcquire (never waits), acquire (waits for
 * its reserved tokens on a timer, never spinning) and the snapshot. The shared protocol
 * is rate-limiter-core.ts; this file is what a request does around it, in the calling
 * thread.
 */
import type { Clock } from '../clock.js';
import { InvalidOptionsError, UnsafeIntegerError, describe } from '../errors.js';
import { type CallContext, LazySignal, abortReason, callContext, checkSignal } from '../policy/timeout.js';
import type { Counter, CounterSet } from '../sets/counter-set.js';
import { checkIntIn, checkOptionsObject } from '../validate.js';
import { RateLimitedError } from './errors.js';
import type { ResolvedRateLimiterConfig } from './rate-limiter-config.js';
import { MAX_WAIT_MS, REFUSED, type RateLimiterCore } from './rate-limiter-core.js';

/** The rate limiter's counters, in cell order. */
export const RATE_LIMITER_FIELDS = ['granted', 'refused', 'granted_tokens', 'waited', 'waited_ms_total', 'aborted'] as const;
export type RateLimiterField = (typeof RATE_LIMITER_FIELDS)[number];

/** `metrics()`: the limiter now, all threads together. */
export interface RateLimiterMetrics {
  /** Whole tokens in the bucket now (0 while reservations are outstanding). */
  tokens: number;
  /** Requests granted (tryAcquire's `true`s and acquire's grants, at once or after a wait). */
  granted: number;
  /** Requests refused (tryAcquire's `false`s, and acquire's RateLimitedErrors). */
  refused: number;
  /** Tokens granted. */
  granted_tokens: number;
  /** Grants of acquire that had to wait for their tokens. */
  waited: number;
  /** The waits of those grants, summed, in ms (rounded up per grant). */
  waited_ms_total: number;
  /** acquire calls aborted by their caller while they waited. */
  aborted: number;
}

/** The same snapshot with every count exact, as a bigint. */
export type RateLimiterMetricsBigInt = { [K in keyof RateLimiterMetrics]: bigint };

/** The options of one `acquire`. */
export interface AcquireOptions {
  /** The caller's AbortSignal: aborting rejects with its reason (the tokens go back when nobody reserved after them). */
  signal?: AbortSignal;
  /**
   * The longest this call may wait for its tokens, in ms: an integer 0..86400000. Default:
   * `intervalMs`. A call that would wait longer is refused at once with RateLimitedError.
   */
  maxWaitMs?: number;
}

/** @internal Everything one thread knows about one limiter record. */
export interface RateLimiterBinding {
  readonly name: string;
  readonly config: ResolvedRateLimiterConfig;
  readonly core: RateLimiterCore;
  readonly counters: CounterSet<RateLimiterField>;
}

const ACQUIRE_OPTIONS = ['signal', 'maxWaitMs'];
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A rate limiter in a registry's shared memory: one token bucket for every thread, refilled
 * at `tokensPerInterval` per `intervalMs`, holding at most `burst`. Grants in any window of
 * `intervalMs` never exceed `tokensPerInterval + burst`, all threads together.
 *
 * - `tryAcquire(n = 1)`: takes `n` tokens if the bucket has them now; never waits.
 * - `acquire(n = 1, { signal, maxWaitMs }?)`: a promise that resolves when the tokens are
 *   its (first come, first served across threads), or rejects with RateLimitedError.
 * - `call(fn, { signal, maxWaitMs }?)`: `acquire(1, ...)`, then `fn({ signal })`: the shape
 *   of the breaker's and the bulkhead's `call`, so the three stack.
 * - `metrics()`: tokens now and the lifetime counts.
 *
 * The user guide is docs/resilience.md.
 */
export class RateLimiter {
  /** The limiter's name in the registry. */
  readonly name: string;
  /** Its configuration (the same in every thread). */
  readonly config: ResolvedRateLimiterConfig;
  private readonly binding: RateLimiterBinding;
  private readonly core: RateLimiterCore;
  private readonly clock: Clock;
  private readonly c: Record<RateLimiterField, Counter>;

  /** @internal Use `registry.rateLimiter(name, config?, options?)`. */
  constructor(binding: RateLimiterBinding, clock: Clock) {
    this.binding = binding;
    this.name = binding.name;
    this.config = binding.config;
    this.core = binding.core;
    this.clock = clock;
    const set = binding.counters;
    this.c = Object.fromEntries(set.fields.map((f) => [f, set.counter(f)])) as Record<RateLimiterField, Counter>;
  }

  /** @internal The same limiter with another clock (per-thread options). */
  withClock(clock: Clock): RateLimiter {
    return new RateLimiter(this.binding, clock);
  }

  /** @internal Counts go to the shared stripe from now on. */
  retireStripe(): void {
    this.binding.counters.retireStripe();
  }

  /** The limiter's clock, in ns (one read). */
  private nowNs(): bigint {
    return BigInt(Math.floor(this.clock() * 1e6));
  }

  private checkTokens(n: unknown): number {
    return checkIntIn(n, 'tokens', 1, this.config.burst);
  }

  private granted(n: number): void {
    this.c.granted.inc();
    this.c.granted_tokens.add(n);
  }

  /**
   * Takes `n` tokens (an integer 1..burst, default 1) if the bucket has them now, and
   * nobody waits for earlier ones: `true`. Otherwise `false`, with nothing taken. Never
   * waits. A bad `n` throws InvalidOptionsError and changes nothing.
   */
  tryAcquire(n: number = 1): boolean {
    const tokens = n === 1 ? 1 : this.checkTokens(n);
    if (this.core.take(tokens, this.nowNs(), 0n) === REFUSED) {
      this.c.refused.inc();
      return false;
    }
    this.granted(tokens);
    return true;
  }

  /**
   * Resolves once `n` tokens (an integer 1..burst, default 1) are this call's: at once if
   * the bucket has them, otherwise after waiting on a timer for the time they are due
   * (first come, first served across threads; never spinning). Rejects with
   * RateLimitedError, taking nothing, when that is more than `maxWaitMs` (default
   * `intervalMs`) away; with the signal's reason when the caller aborts. Bad arguments
   * reject with InvalidOptionsError and change nothing.
   */
  acquire(n: number = 1, options?: AcquireOptions): Promise<void> {
    let tokens: number;
    let signal: AbortSignal | undefined;
    let maxWaitMs = this.config.intervalMs;
    try {
      tokens = this.checkTokens(n);
      const o = checkOptionsObject(options, ACQUIRE_OPTIONS, 'options');
      if (o.signal !== undefined) signal = checkSignal('signal', o.signal);
      if (o.maxWaitMs !== undefined) maxWaitMs = checkIntIn(o.maxWaitMs, 'maxWaitMs', 0, MAX_WAIT_MS);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = this.nowNs();
    const wait = this.core.take(tokens, now, BigInt(maxWaitMs) * 1_000_000n);
    if (wait === REFUSED) {
      this.c.refused.inc();
      return Promise.reject(new RateLimitedError(this.name, tokens, Number(this.core.retryNs) / 1e6, maxWaitMs));
    }
    this.granted(tokens);
    if (wait === 0n) return Promise.resolve();
    const ms = Math.ceil(Number(wait) / 1e6);
    this.c.waited.inc();
    this.c.waited_ms_total.add(ms);
    const end = this.core.endOf(tokens, now, wait);
    return new Promise<void>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const timer = setTimeout(() => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      if (signal !== undefined) {
        onAbort = () => {
          clearTimeout(timer);
          this.core.giveBack(tokens, end);
          this.c.aborted.inc();
          reject(abortReason(signal!));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * Waits for one token as `acquire(1, options)` does, then runs `fn({ signal })` and
   * returns a promise of its result: the shape of `breaker.call` and `bulkhead.call`, so
   * the three stack with each one's signal handed to the next (docs/resilience.md).
   * `signal` is the caller's (a signal that never aborts without one); aborted before `fn`
   * starts, the call rejects with its reason and `fn` is not called. Never throws: a
   * refusal is RateLimitedError, bad arguments InvalidOptionsError, as rejections.
   */
  call<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: AcquireOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`));
    const signal = options !== null && typeof options === 'object' ? (options as AcquireOptions).signal : undefined;
    return this.acquire(1, options).then(() => {
      // Granted, but the caller may have given up in the meantime (the grant resolves a
      // microtask later): then fn is not started.
      if (signal instanceof AbortSignal) {
        if (signal.aborted) throw abortReason(signal);
        return fn({ signal }) as Awaited<R>;
      }
      return fn(callContext(new LazySignal())) as Awaited<R>;
    });
  }

  /** The snapshot: tokens now and the lifetime counts of every thread (see RateLimiterMetrics). */
  metrics(): RateLimiterMetrics {
    const m = this.metricsBigInt();
    const out = {} as RateLimiterMetrics;
    for (const [k, v] of Object.entries(m) as [keyof RateLimiterMetrics, bigint][]) {
      if (v > MAX_SAFE) throw new UnsafeIntegerError(this.name, k);
      out[k] = Number(v);
    }
    return out;
  }

  /** The snapshot with every count as an exact bigint. */
  metricsBigInt(): RateLimiterMetricsBigInt {
    const c = this.binding.counters.snapshotBigInt();
    return {
      tokens: BigInt(this.core.tokens(this.nowNs())),
      granted: c.granted,
      refused: c.refused,
      granted_tokens: c.granted_tokens,
      waited: c.waited,
      waited_ms_total: c.waited_ms_total,
      aborted: c.aborted,
    };
  }
}
