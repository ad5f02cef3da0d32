import type { BackendKind } from '../backend.js';
import { TWO32 } from '../count.js';
import type { CounterSet } from '../counter-set.js';
import { InvalidCountError, InvalidOptionsError, describe } from '../errors.js';
import { type Clock, guardedClock, nowTicks, stampTicks } from './clock.js';
import type { ResolvedBreakerConfig } from './config.js';
import { CircuitOpenError } from './errors.js';
import { CODE_MASK, type CounterField, DONE, NEED_CLOCK, NO_CLOCK, PERMIT_CLOSED, PERMIT_NONE, REJECTED, STATE_CLOSED, STATE_OPEN, STAMP_MASK } from './layout.js';
import {
  type CircuitBreakerMetrics,
  type CircuitBreakerMetricsBigInt,
  buildMetricsBigInt,
  readWindow,
  readWord,
  toNumberMetrics,
} from './metrics.js';
import { type StateChange, type StateChangeListener, type StateWatcher, changeIterator } from './notify.js';
import type { BreakerOps } from './ops.js';
import { type CircuitState, stateOfWord } from './state.js';

const TWO64 = TWO32 * TWO32;

/** @internal Everything one thread knows about one breaker record. */
export interface BreakerBinding {
  readonly name: string;
  readonly config: ResolvedBreakerConfig;
  readonly backend: BackendKind;
  /** Byte offset of the control block (the state word). */
  readonly ctl: number;
  /** This thread's owned counter stripe, or 0: add to the shared stripe. */
  readonly stripe: number;
  readonly ops: BreakerOps;
  readonly i32: Int32Array;
  readonly counters: CounterSet<CounterField>;
  readonly watcher: StateWatcher;
  /** Registers every breaker object made on this binding with its registry object (see retireStripe). */
  readonly track: (breaker: CircuitBreaker) => void;
  /** The memory as 64-bit cells (the rate window), or undefined when the policy is off. */
  readonly i64: BigInt64Array | undefined;
}

function checkDuration(d: unknown): asserts d is number {
  if (typeof d !== 'number') throw new InvalidCountError(d, 'a duration must be a number of nanoseconds');
  if (Number.isNaN(d)) throw new InvalidCountError(d, 'a duration must not be NaN');
  if (!Number.isFinite(d)) throw new InvalidCountError(d, 'a duration must be finite');
  if (d < 0) throw new InvalidCountError(d, 'a duration must not be negative');
  throw new InvalidCountError(d, 'a duration must be below 2^64 nanoseconds');
}

const PERMIT_LIMIT = (STAMP_MASK << 2) | 3;

/** undefined -> PERMIT_NONE; otherwise a value acquirePermit() can return, or a typed error. */
function checkPermit(permit: unknown): number {
  if (permit === undefined) return PERMIT_NONE;
  if (typeof permit === 'number' && Number.isInteger(permit) && (permit === PERMIT_CLOSED || ((permit & 3) === 3 && permit > 0 && permit <= PERMIT_LIMIT))) return permit;
  throw new InvalidOptionsError('permit', `must be a permit returned by acquirePermit() (a positive integer), got ${describe(permit)}`);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * A circuit breaker in a registry's shared memory: every thread that opens the same name
 * gets the same breaker, with one state and one set of counters for all of them.
 *
 * Two ways to use it:
 * - the synchronous guard, for hot paths: `if (b.tryAcquire()) { ...; b.recordSuccess(ns) }`
 *   (or `recordFailure(ns)`); every permit granted should be followed by exactly one
 *   record, because in HalfOpen a permit holds one of the `successThreshold` probe slots
 *   until its result is recorded (or the probe lease, `probeLeaseMs`, runs out);
 *   `acquirePermit()` gives the permit itself, so that a late result cannot act on a
 *   later period (docs/breaker-policies.md);
 * - `call(fn)` / `execute(fn)`, which do both around a function and measure its duration.
 *
 * Semantics: see the README, "Circuit breaker", and docs/breaker-policies.md.
 */
export class CircuitBreaker {
  /** The breaker's name in the registry. */
  readonly name: string;
  /** The breaker's configuration (the same in every thread). */
  readonly config: ResolvedBreakerConfig;
  /** This thread's backend for the state machine ('wasm' or 'js'); both share the breaker. */
  readonly backend: BackendKind;
  private readonly ops: BreakerOps;
  private readonly ctl: number;
  private readonly i32: Int32Array;
  /** Index of the state word in `i32`. */
  private readonly word: number;
  // Not readonly: retireStripe() sets it to 0 (the shared stripe).
  private stripe: number;
  private readonly successThreshold: number;
  private readonly failureThreshold: number;
  private readonly timeoutMs: number;
  private readonly probeLeaseMs: number;
  /** The rate policy: windowMs 0 when it is off (then rate and minimumCalls are unused). */
  private readonly rate: number;
  private readonly minimumCalls: number;
  private readonly windowMs: number;
  /** The clock as the breaker reads it: never throws, always finite (guardedClock). */
  private readonly clock: Clock;
  private readonly binding: BreakerBinding;

  /** @internal Use `registry.circuitBreaker(name, config?)`. */
  constructor(binding: BreakerBinding, clock: Clock) {
    this.binding = binding;
    this.name = binding.name;
    this.config = binding.config;
    this.backend = binding.backend;
    this.ops = binding.ops;
    if (binding.config.windowMs !== null) {
      // A success must go through the rate window: this breaker's ops divert the plain
      // success there, so recordSuccess needs no test of its own for the policy.
      const ops = Object.create(binding.ops) as BreakerOps;
      ops.success = (_ctl, _stripe, durationNanos) => {
        this.succeeded(durationNanos);
        return DONE;
      };
      this.ops = ops;
    }
    this.ctl = binding.ctl;
    this.i32 = binding.i32;
    this.word = binding.ctl >>> 2;
    this.stripe = binding.stripe;
    this.successThreshold = binding.config.successThreshold;
    this.failureThreshold = binding.config.failureThreshold;
    this.timeoutMs = binding.config.timeoutMs;
    this.probeLeaseMs = binding.config.probeLeaseMs;
    this.rate = binding.config.failureRateThreshold ?? 0;
    this.minimumCalls = binding.config.minimumCalls ?? 0;
    this.windowMs = binding.config.windowMs ?? 0;
    this.clock = guardedClock(clock);
    binding.track(this);
  }

  /**
   * @internal Counts go to the shared stripe from now on: the registry object this was
   * opened through is handing its stripe back (StatsRegistry.releaseStripe).
   */
  retireStripe(): void {
    this.stripe = 0;
    this.binding.counters.retireStripe();
  }

  /** @internal The same breaker seen through another clock. */
  withClock(clock: Clock): CircuitBreaker {
    return new CircuitBreaker(this.binding, clock);
  }

  /**
   * Asks for a permit; true means "make the call, then record its result". Closed: always.
   * Open: false until `timeoutMs` has passed since it opened; then the first caller (of
   * any thread) moves it to HalfOpen and gets the first probe. HalfOpen: true while fewer
   * than `successThreshold` probes are in flight or have succeeded in this half-open
   * period, counted across all threads. Every false is counted in `rejected_calls`.
   * A half-open period whose probes are not all recorded `probeLeaseMs` after its first
   * probe was admitted counts as a failed probe: the next permit request reopens the
   * breaker (and is refused). Reads the clock only while the breaker is Open, or HalfOpen
   * with a probe out.
   */
  tryAcquire(): boolean {
    // Closed is decided by one seq-cst load of the state word, the same load the Wasm
    // export starts with; doing it here saves the crossing into Wasm (which costs more
    // than the load) on the hot path. Any other state goes to the backend's state machine.
    if ((Atomics.load(this.i32, this.word) & CODE_MASK) === STATE_CLOSED) return true;
    return this.acquireSlow() !== REJECTED;
  }

  /**
   * Like `tryAcquire`, but returns the permit itself: 0 when refused, otherwise a positive
   * integer to pass to `recordSuccess` / `recordFailure`. With it, a record counts only
   * in the period that granted the permit: the result of a probe whose half-open period
   * is over (its lease ran out, or the breaker closed or reopened meanwhile), or of a
   * call admitted while Closed that ends after the breaker opened, is counted in the
   * totals and changes no state (and does not enter the rate window).
   */
  acquirePermit(): number {
    if ((Atomics.load(this.i32, this.word) & CODE_MASK) === STATE_CLOSED) return PERMIT_CLOSED;
    return this.acquireSlow();
  }

  private acquireSlow(): number {
    const r = this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, this.probeLeaseMs, NO_CLOCK);
    if (r !== NEED_CLOCK) return r;
    return this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, this.probeLeaseMs, nowTicks(this.clock()));
  }

  /**
   * Records a successful call that took `durationNanos` (a finite number >= 0; fractions
   * are truncated). Anything else throws InvalidCountError and records nothing. `permit`:
   * what `acquirePermit()` returned for this call (see there); without it the result
   * acts on whatever state it finds.
   */
  recordSuccess(durationNanos: number, permit?: number): void {
    if (!(typeof durationNanos === 'number' && durationNanos >= 0 && durationNanos < TWO64)) checkDuration(durationNanos);
    // The same shape as before permits and the window existed (even a field load more
    // measured ~0.7 ns): with the rate window on, `ops.success` is this breaker's own
    // detour through the window (see the constructor).
    if (permit === undefined) this.ops.success(this.ctl, this.stripe, durationNanos, this.successThreshold);
    else this.successOther(durationNanos, permit);
  }

  private successOther(durationNanos: number, permit: number | undefined): void {
    this.succeeded(durationNanos, permit === undefined ? PERMIT_NONE : checkPermit(permit));
  }

  /**
   * Records a failed call that took `durationNanos` (validated as for recordSuccess). Opens
   * the breaker when this is the `failureThreshold`-th failure in a row while Closed, when
   * the rate window trips, or on a probe's failure while HalfOpen. `permit`: as for
   * recordSuccess.
   */
  recordFailure(durationNanos: number, permit?: number): void {
    if (!(typeof durationNanos === 'number' && durationNanos >= 0 && durationNanos < TWO64)) checkDuration(durationNanos);
    this.failed(durationNanos, permit === undefined ? PERMIT_NONE : checkPermit(permit));
  }

  // With the rate window off, a record reads the clock only when it opens or closes the
  // breaker (NEED_CLOCK); with it on, every record goes to a time slice, so read it first.
  private succeeded(durationNanos: number, permit = PERMIT_NONE): void {
    if (this.windowMs === 0) {
      // Policy off: a success never needs the time (NEED_CLOCK cannot come back).
      if (permit === PERMIT_NONE) this.ops.success(this.ctl, this.stripe, durationNanos, this.successThreshold);
      else this.ops.successWith(this.ctl, this.stripe, durationNanos, this.successThreshold, permit, 0, 0, 0, NO_CLOCK);
      return;
    }
    this.ops.successWith(this.ctl, this.stripe, durationNanos, this.successThreshold, permit, this.rate, this.minimumCalls, this.windowMs, stampTicks(this.clock()));
  }

  private failed(durationNanos: number, permit = PERMIT_NONE): void {
    if (this.windowMs === 0) {
      const r =
        permit === PERMIT_NONE
          ? this.ops.failure(this.ctl, this.stripe, durationNanos, this.failureThreshold, NO_CLOCK)
          : this.ops.failureWith(this.ctl, this.stripe, durationNanos, this.failureThreshold, permit, 0, 0, 0, NO_CLOCK);
      if (r !== NEED_CLOCK) return;
    }
    this.ops.failureWith(this.ctl, this.stripe, durationNanos, this.failureThreshold, permit, this.rate, this.minimumCalls, this.windowMs, stampTicks(this.clock()));
  }

  private elapsedNanos(start: number): number {
    let end: number;
    try {
      end = this.clock();
    } catch {
      end = start;
    }
    const d = (end - start) * 1e6;
    return d > 0 && d < TWO64 ? d : 0;
  }

  private openError(): CircuitOpenError {
    return new CircuitOpenError(this.name, this.state === 'HalfOpen' ? 'HalfOpen' : 'Open');
  }

  /**
   * Runs `fn` under the breaker and returns what it returns.
   *
   * - Rejected: throws CircuitOpenError **synchronously**, without calling `fn`.
   * - `fn` returns a non-thenable: the success is recorded before `call` returns, and no
   *   Promise is created; a synchronous throw is recorded as a failure and rethrown.
   * - `fn` returns a promise (or any thenable): `call` returns a promise of the same
   *   value that settles after the result has been recorded (a rejection is a failure).
   *
   * The duration is measured with the breaker's clock. Because the rejection of `call` is
   * a synchronous throw, `breaker.call(f).catch(...)` does not see it; use `execute` for a
   * function whose every outcome, rejection included, should be a promise.
   */
  call<R>(fn: () => R): R {
    if (typeof fn !== 'function') throw new InvalidOptionsError('fn', 'must be a function');
    const start = this.clock();
    if (!this.tryAcquire()) throw this.openError();
    let result: R;
    try {
      result = fn();
    } catch (err) {
      this.failed(this.elapsedNanos(start));
      throw err;
    }
    if (result instanceof Promise) {
      // A native promise is returned as it is, with our reaction attached first: it runs
      // before any reaction the caller adds (reactions run in the order they were added),
      // so the result is recorded before the caller's await resumes, and the caller's
      // await costs no extra promise hop. The derived promise of our `then` is never
      // exposed; its rejection handler returns normally, so it cannot go unhandled.
      result.then(
        () => this.succeeded(this.elapsedNanos(start)),
        () => this.failed(this.elapsedNanos(start)),
      );
      return result;
    }
    if (isThenable(result)) {
      // Any other thenable gets exactly one `then` call (some start their work on every
      // `then`, like query builders), and the caller gets the derived promise.
      return result.then(
        (value) => {
          this.succeeded(this.elapsedNanos(start));
          return value;
        },
        (err: unknown) => {
          this.failed(this.elapsedNanos(start));
          throw err;
        },
      ) as R;
    }
    this.succeeded(this.elapsedNanos(start));
    return result;
  }

  /**
   * Like `call`, but always returns a promise: a rejection by the breaker is a rejected
   * promise (CircuitOpenError), as is a synchronous throw of `fn`.
   */
  execute<R>(fn: () => R | PromiseLike<R>): Promise<Awaited<R>> {
    try {
      return Promise.resolve(this.call(fn)) as Promise<Awaited<R>>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Opens the breaker now, from any state, for a full `timeoutMs` (an Open breaker starts
   * a new open period). Counted in `times_opened` unless it was already Open.
   */
  forceOpen(): void {
    this.ops.force(this.ctl, this.stripe, STATE_OPEN, this.windowMs, stampTicks(this.clock()));
  }

  /**
   * Closes the breaker from any state, clearing consecutive failures and half-open probes
   * (and restarting the rate window when that policy is on).
   */
  forceClosed(): void {
    this.ops.force(this.ctl, this.stripe, STATE_CLOSED, this.windowMs, this.windowMs === 0 ? 0 : stampTicks(this.clock()));
  }

  /**
   * The current state, as every thread sees it. An Open breaker whose timeout has passed
   * still reads Open until a permit request moves it to HalfOpen; likewise a HalfOpen
   * breaker whose probe lease has run out reads HalfOpen until a permit request reopens it.
   */
  get state(): CircuitState {
    return stateOfWord(Atomics.load(this.i32, this.word));
  }

  /**
   * The snapshot DTO (snake_case keys, see CircuitBreakerMetrics). Counts are read one by
   * one, not as a transaction. Throws UnsafeIntegerError if a count is above 2^53 - 1
   * rather than round it (total_duration_nanos gets there first: about 104 days of
   * summed call time); `metricsBigInt()` is exact.
   */
  metrics(): CircuitBreakerMetrics {
    return toNumberMetrics(this.name, this.metricsBigInt());
  }

  /** The snapshot with every count as an exact bigint. */
  metricsBigInt(): CircuitBreakerMetricsBigInt {
    const word = readWord(this.binding.i32, this.ctl);
    const window = this.binding.i64 === undefined ? undefined : readWindow(this.binding.i64, this.ctl, this.windowMs, stampTicks(this.clock()), word.raw);
    return buildMetricsBigInt(word, this.binding.counters.snapshotBigInt(), window);
  }

  /** Closed, and either fewer than 10 calls so far or a failure rate below 10%. */
  isHealthy(): boolean {
    if (this.state !== 'Closed') return false;
    const calls = this.binding.counters.counter('total_calls').valueBigInt();
    if (calls < 10n) return true;
    const failures = this.binding.counters.counter('failure_count').valueBigInt();
    return Number(failures) / Number(calls) < 0.1;
  }

  /**
   * Calls `listener` when this breaker's state changes, whichever thread changed it.
   * Returns a function that unsubscribes. Delivery is asynchronous and coalesced: the
   * listener gets the state as it is when this thread's watcher runs, never the same
   * state twice in a row, and may miss a state that lasted a moment. A pending listener
   * does not keep the process alive. See the README, "Circuit breaker".
   */
  onStateChange(listener: (change: StateChange) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', 'must be a function');
    return this.binding.watcher.subscribe(listener as StateChangeListener);
  }

  /**
   * The state changes as an async iterator (same delivery as `onStateChange`). Ends when
   * the consumer breaks out of `for await`, or when `signal` aborts.
   */
  stateChanges(options?: { signal?: AbortSignal }): AsyncIterableIterator<StateChange> {
    return changeIterator((l) => this.binding.watcher.subscribe(l), options?.signal);
  }
}
