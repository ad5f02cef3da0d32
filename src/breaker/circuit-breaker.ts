import type { BackendKind } from '../backend.js';
import { TWO32 } from '../count.js';
import type { CounterSet } from '../counter-set.js';
import { InvalidCountError, InvalidOptionsError } from '../errors.js';
import { type Clock, nowTicks, stampTicks } from './clock.js';
import type { ResolvedBreakerConfig } from './config.js';
import { CircuitOpenError } from './errors.js';
import { ADMITTED, CODE_MASK, type CounterField, NEED_CLOCK, NO_CLOCK, STATE_CLOSED, STATE_OPEN } from './layout.js';
import {
  type CircuitBreakerMetrics,
  type CircuitBreakerMetricsBigInt,
  buildMetricsBigInt,
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
}

function checkDuration(d: unknown): asserts d is number {
  if (typeof d !== 'number') throw new InvalidCountError(d, 'a duration must be a number of nanoseconds');
  if (Number.isNaN(d)) throw new InvalidCountError(d, 'a duration must not be NaN');
  if (!Number.isFinite(d)) throw new InvalidCountError(d, 'a duration must be finite');
  if (d < 0) throw new InvalidCountError(d, 'a duration must not be negative');
  throw new InvalidCountError(d, 'a duration must be below 2^64 nanoseconds');
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
 *   until its result is recorded;
 * - `call(fn)` / `execute(fn)`, which do both around a function and measure its duration.
 *
 * Semantics are SPEC §3; see the README, "Circuit breaker" for the choices made where it is silent.
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
  private readonly clock: Clock;
  private readonly binding: BreakerBinding;

  /** @internal Use `registry.circuitBreaker(name, config?)`. */
  constructor(binding: BreakerBinding, clock: Clock) {
    this.binding = binding;
    this.name = binding.name;
    this.config = binding.config;
    this.backend = binding.backend;
    this.ops = binding.ops;
    this.ctl = binding.ctl;
    this.i32 = binding.i32;
    this.word = binding.ctl >>> 2;
    this.stripe = binding.stripe;
    this.successThreshold = binding.config.successThreshold;
    this.failureThreshold = binding.config.failureThreshold;
    this.timeoutMs = binding.config.timeoutMs;
    this.clock = clock;
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
   * Reads the clock only while the breaker is Open.
   */
  tryAcquire(): boolean {
    // Closed is decided by one seq-cst load of the state word, the same load the Wasm
    // export starts with; doing it here saves the crossing into Wasm (which costs more
    // than the load) on the hot path. Any other state goes to the backend's state machine.
    if ((Atomics.load(this.i32, this.word) & CODE_MASK) === STATE_CLOSED) return true;
    const r = this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, NO_CLOCK);
    if (r !== NEED_CLOCK) return r === ADMITTED;
    return this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, nowTicks(this.clock())) === ADMITTED;
  }

  /**
   * Records a successful call that took `durationNanos` (a finite number >= 0; fractions
   * are truncated). Anything else throws InvalidCountError and records nothing.
   */
  recordSuccess(durationNanos: number): void {
    if (!(typeof durationNanos === 'number' && durationNanos >= 0 && durationNanos < TWO64)) checkDuration(durationNanos);
    this.ops.success(this.ctl, this.stripe, durationNanos, this.successThreshold);
  }

  /**
   * Records a failed call that took `durationNanos` (validated as for recordSuccess). Opens
   * the breaker when this is the `failureThreshold`-th failure in a row while Closed, or
   * any failure while HalfOpen.
   */
  recordFailure(durationNanos: number): void {
    if (!(typeof durationNanos === 'number' && durationNanos >= 0 && durationNanos < TWO64)) checkDuration(durationNanos);
    this.failed(durationNanos);
  }

  private failed(durationNanos: number): void {
    if (this.ops.failure(this.ctl, this.stripe, durationNanos, this.failureThreshold, NO_CLOCK) === NEED_CLOCK) {
      this.ops.failure(this.ctl, this.stripe, durationNanos, this.failureThreshold, stampTicks(this.clock()));
    }
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
        () => this.ops.success(this.ctl, this.stripe, this.elapsedNanos(start), this.successThreshold),
        () => this.failed(this.elapsedNanos(start)),
      );
      return result;
    }
    if (isThenable(result)) {
      // Any other thenable gets exactly one `then` call (some start their work on every
      // `then`, like query builders), and the caller gets the derived promise.
      return result.then(
        (value) => {
          this.ops.success(this.ctl, this.stripe, this.elapsedNanos(start), this.successThreshold);
          return value;
        },
        (err: unknown) => {
          this.failed(this.elapsedNanos(start));
          throw err;
        },
      ) as R;
    }
    this.ops.success(this.ctl, this.stripe, this.elapsedNanos(start), this.successThreshold);
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
    this.ops.force(this.ctl, this.stripe, STATE_OPEN, stampTicks(this.clock()));
  }

  /** Closes the breaker from any state, clearing consecutive failures and half-open probes. */
  forceClosed(): void {
    this.ops.force(this.ctl, this.stripe, STATE_CLOSED, 0);
  }

  /**
   * The current state, as every thread sees it. An Open breaker whose timeout has passed
   * still reads Open until a permit request moves it to HalfOpen.
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
    return buildMetricsBigInt(word, this.binding.counters.snapshotBigInt());
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
