/*
 * One thread's handle on a circuit breaker that lives in shared memory: every thread that
 * opens the name gets its own CircuitBreaker object over the same record, so there is one
 * state and one set of counts for the whole process, and no thread has to forward its
 * results to another.
 *
 * What is shared and what is not. The record holds only what every thread must agree on:
 * the state word (assembly/breaker.ts explains why the state and the one number each
 * state's decisions need are packed into a single word that every transition replaces with
 * one compare-and-swap), the counts, and, with the failure-rate policy on, the time slices
 * of the rate window. The config is part of the record's signature, so it is fixed once
 * the breaker exists; each object copies the numbers it needs into fields of its own and
 * passes them as arguments to every operation, which is how the state machine can hold no
 * state of its own in either backend. Everything else is per thread and never shared: the
 * clock, `isFailure`, the timeouts of `call` (policy/timeout.ts), the duration histogram
 * hook and the state-change watcher.
 *
 * The hot path. A permit is one backend call (`ops.acquire`) that starts with a sequentially
 * consistent load of the state word and answers Closed at once; a record without a permit is
 * one call that adds to this thread's stripe. Neither reads the clock: the operation is
 * passed NO_CLOCK, and when it finds that it needs the time (the breaker is Open, HalfOpen
 * with a probe out, or about to open or close) it returns NEED_CLOCK having changed
 * nothing, so asking again with the time cannot count anything twice. The policies that
 * must see every record (the rate window, `durations: true`) are not tests on that path:
 * they are this object's own operations, made with Object.create over the shared binding's
 * ones, so a breaker without them runs exactly the plain path.
 *
 * Permits and periods. A result recorded with the permit it was granted acts only in the
 * period that granted it: a probe's result that arrives after its half-open period ended
 * (its lease ran out, or another thread reopened or closed the breaker), or a result of a
 * call admitted while Closed that arrives once the breaker is Open, is counted in the
 * totals and changes no state. `call` and `callSync` always record that way. The
 * synchronous guard (`tryAcquire`, then `recordSuccess(ns)`) has only a boolean, so its
 * records act on the state they find: a Closed-era success that lands in a half-open
 * period counts as that period's success. That race is accepted for the guard's cost and
 * documented; `acquirePermit()` is there for callers who need the exact rule.
 *
 * Races judged benign:
 *   - the counts and the state word are separate cells with no ordering between them, so
 *     a `metrics()` snapshot taken while other threads record is not a transaction: a
 *     count may lag the state it led to. No decision ever reads a count;
 *   - transitions that depend on time happen when a thread asks for a permit, not on a
 *     timer, so `state` reads Open after the timeout has passed (and HalfOpen after a
 *     lease ran out) until someone asks; there is no background work and no thread whose
 *     death could stall the breaker;
 *   - a thread that dies holding a probe (terminated, or a call that never settles) is
 *     covered by the probe lease (assembly/breaker.ts); one that dies holding a Closed
 *     permit holds nothing;
 *   - the threads read one monotonic clock (src/clock.ts); a reading a hair behind the one
 *     that stamped the word is taken as "not yet", never as a wrap-around;
 *   - listeners hear states as the watcher finds them, coalesced (notify.ts).
 * Within one thread a call ends once: settling, timing out and the caller's abort race
 * for one latch (CallScope), and only the winner records, so a hung function that settles
 * after its timeout is not counted twice. A user's clock that throws or returns garbage is
 * replaced by this thread's last good reading (clock.ts), so it can delay a transition but
 * never lose a record.
 *
 * Handing the stripe back. retireStripe() points this object's records at the shared
 * stripe (stripe 0: atomic adds) before its registry object releases the slot, as every
 * stripe writer does (sets/counter-set.ts says why that order makes the handover safe).
 */
import type { BackendKind } from '../backend.js';
import { TWO32 } from '../count.js';
import type { CounterSet } from '../sets/counter-set.js';
import { InvalidCountError, InvalidOptionsError, describe } from '../errors.js';
import { checkOptionsObject } from '../validate.js';
import { isHealthySnapshot } from './health.js';
import { type CallContext, CallScope, CallTimeoutError, ENDED_BY_TIMEOUT, LazySignal, abortReason, callContext, checkSignal, checkTimeoutMs } from '../policy/timeout.js';
import { type Clock, monotonicClock } from '../clock.js';
import { guardedClock, nowTicks, stampTicks } from './clock.js';
import type { ResolvedBreakerConfig } from './config.js';
import { CircuitOpenError } from './errors.js';
import { type FailurePredicate, elapsedNanos, isFailureOf, settleOnce } from './execute.js';
import { type CounterField, DONE, NEED_CLOCK, NO_CLOCK, PERMIT_CLOSED, PERMIT_NONE, REJECTED, STATE_CLOSED, STATE_OPEN, STAMP_MASK } from '../ops/breaker-layout.js';
import {
  type CircuitBreakerMetrics,
  type CircuitBreakerMetricsBigInt,
  buildMetricsBigInt,
  readWindow,
  readWord,
  toNumberMetrics,
} from './metrics.js';
import { type StateChange, type StateChangeListener, type StateWatcher, changeIterator } from './notify.js';
import type { BreakerOps } from '../ops/breaker.js';
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
  /** The memory as 64-bit cells (the rate window), or undefined when the policy is off. */
  readonly i64: BigInt64Array | undefined;
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

const PERMIT_LIMIT = (STAMP_MASK << 2) | 3;

/** undefined -> PERMIT_NONE; otherwise a value acquirePermit() can return, or a typed error. */
function checkPermit(permit: unknown): number {
  if (permit === undefined) return PERMIT_NONE;
  if (typeof permit === 'number' && Number.isInteger(permit) && (permit === PERMIT_CLOSED || ((permit & 3) === 3 && permit > 0 && permit <= PERMIT_LIMIT))) return permit;
  throw new InvalidOptionsError('permit', `must be a permit returned by acquirePermit() (a positive integer), got ${describe(permit)}`);
}

/** The options of one `call` (all optional). */
export interface CallOptions<F = never> {
  /**
   * This call's timeout in ms (an integer from 1 to 3600000), instead of the breaker's
   * `callTimeoutMs`. Past it the call rejects with CallTimeoutError, recorded as one failure.
   */
  timeoutMs?: number;
  /**
   * The caller's AbortSignal. Aborting rejects the call at once with the signal's reason
   * and aborts the function's signal; an already-aborted signal rejects without running
   * the function or asking the breaker for a permit.
   */
  signal?: AbortSignal;
  /**
   * Supplies the result when the call is refused (CircuitOpenError), times out
   * (CallTimeoutError) or fails (an error that counts as a failure); gets that error.
   * Not called for an abort by the caller, nor for an error `isFailure` let through.
   */
  fallback?: (error: unknown) => F | PromiseLike<F>;
}

const CALL_OPTIONS = ['timeoutMs', 'signal', 'fallback'];

/**
 * What `acquirePermit` returns, as the call paths use it: refused, a permit taken while
 * Closed (it holds nothing), or anything else: a half-open probe, whose slot is held until
 * it is recorded (or its lease runs out), and whose record acts only in its own period.
 */
const REFUSED = REJECTED;
const CLOSED_PERMIT = PERMIT_CLOSED;

/** The records a GuardedCall makes, on the breaker object that started it. */
interface CallRecorder {
  name: string;
  recordOk(start: number, permit: number): void;
  /** Records an error (a failure, or a success when isFailure lets it through); true if a failure. */
  recordError(start: number, permit: number, error: unknown): boolean;
  recordFailureSince(start: number, permit: number): void;
}

const unset = (): void => {};

/**
 * One `call` with options: the CallScope (fn's `{ signal }`, the deadline, the caller's
 * signal, the latch) plus what settling it takes. Whichever ends the call first takes
 * the latch and makes the one record of its permit:
 * - fn settled: its result (a failure goes to the fallback, if any);
 * - timed out: one failure, whatever fn does later (its late result finds the latch taken);
 * - aborted by the caller: nothing is known about the dependency, so a plain permit
 *   (taken while Closed, where a permit holds nothing) is not recorded at all; a
 *   half-open probe is recorded as a failed probe, which frees its slot (a probe slot is
 *   held until recorded) and keeps the breaker from closing on no evidence.
 * Methods rather than closures: a call allocates this object, its promise and the two
 * reactions, and nothing else.
 */
class GuardedCall extends CallScope {
  resolve: (value: unknown) => void = unset;
  reject: (error: unknown) => void = unset;

  constructor(
    private readonly rec: CallRecorder,
    private readonly start: number,
    private readonly permit: number,
    private readonly fallback: ((error: unknown) => unknown) | undefined,
    private readonly timeoutMs: number | undefined,
  ) {
    super();
  }

  protected override timeoutReason(): unknown {
    return new CallTimeoutError(this.rec.name, this.timeoutMs!);
  }

  // Each way out settles the caller's promise even if recording throws (a custom clock
  // that throws while a failure opens the breaker): the call then rejects with that error.

  protected override onEnded(how: number, reason: unknown): void {
    try {
      if (how === ENDED_BY_TIMEOUT || this.permit !== CLOSED_PERMIT) this.rec.recordFailureSince(this.start, this.permit);
    } catch (recordError) {
      this.reject(recordError);
      return;
    }
    if (how === ENDED_BY_TIMEOUT) this.fail(reason);
    else this.reject(reason);
  }

  settled(value: unknown): void {
    if (!this.end()) return;
    try {
      this.rec.recordOk(this.start, this.permit);
    } catch (recordError) {
      this.reject(recordError);
      return;
    }
    this.resolve(value);
  }

  threw(error: unknown): void {
    if (!this.end()) return;
    let failure: boolean;
    try {
      failure = this.rec.recordError(this.start, this.permit, error);
    } catch (recordError) {
      this.reject(recordError);
      return;
    }
    if (failure) this.fail(error);
    else this.reject(error);
  }

  private fail(error: unknown): void {
    const fallback = this.fallback;
    if (fallback === undefined) {
      this.reject(error);
      return;
    }
    try {
      this.resolve(fallback(error));
    } catch (fallbackError) {
      this.reject(fallbackError);
    }
  }
}

/** Per-thread options of one breaker object (see CircuitBreakerOptions). */
export interface BreakerThreadOptions {
  readonly clock: Clock;
  readonly isFailure: FailurePredicate | undefined;
  /** The shared call-duration histogram series this thread observes into (`durations: true`). */
  readonly durations: { observe(seconds: number): void } | undefined;
}

/**
 * A circuit breaker in a registry's shared memory: every thread that opens the same name
 * gets the same breaker, with one state and one set of counters for all of them.
 *
 * Three ways to use it:
 * - `call(fn, options?)` for asynchronous work: always a promise, with a timeout, the
 *   caller's AbortSignal and a fallback as options;
 * - `callSync(fn)` for synchronous work: returns or throws synchronously;
 * - the synchronous guard, for hot paths: `if (b.tryAcquire()) { ...; b.recordSuccess(ns) }`
 *   (or `recordFailure(ns)`); every permit granted should be followed by exactly one
 *   record, because in HalfOpen a permit holds one of the `successThreshold` probe slots
 *   until its result is recorded (or the probe lease, `probeLeaseMs`, runs out);
 *   `acquirePermit()` gives the permit itself, so that a late result cannot act on a
 *   later period.
 *
 * The user guide is docs/circuit-breaker.md (calls and their policies, the probe lease
 * and the rate window).
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
  private readonly callTimeoutMs: number | undefined;
  /** The clock as the breaker reads it: never throws, always finite (guardedClock). */
  private readonly clock: Clock;
  private readonly isFailure: FailurePredicate | undefined;
  private readonly binding: BreakerBinding;

  /** @internal Use `registry.circuitBreaker(name, config?, options?)`. */
  constructor(binding: BreakerBinding, options: BreakerThreadOptions) {
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
    if (options.durations !== undefined) {
      // `durations: true`: every record also observes its duration, in seconds. The hook
      // sits in this object's ops, like the window's, so a breaker without it pays nothing.
      // A failure may be asked twice (NO_CLOCK, then with the time: NEED_CLOCK means the
      // first changed nothing), so an observation follows only a record that happened. With
      // the window on, `success` goes through `successWith` and is observed there.
      const series = options.durations;
      const base = this.ops;
      const ops = Object.create(base) as BreakerOps;
      const seen = (r: number, durationNanos: number): number => {
        if (r !== NEED_CLOCK) series.observe(Math.floor(durationNanos) / 1e9);
        return r;
      };
      if (binding.config.windowMs === null) ops.success = (c, s, d, t) => seen(base.success(c, s, d, t), d);
      ops.successWith = (c, s, d, t, p, r, m, w, n) => seen(base.successWith(c, s, d, t, p, r, m, w, n), d);
      ops.failure = (c, s, d, t, n) => seen(base.failure(c, s, d, t, n), d);
      ops.failureWith = (c, s, d, t, p, r, m, w, n) => seen(base.failureWith(c, s, d, t, p, r, m, w, n), d);
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
    this.callTimeoutMs = binding.config.callTimeoutMs;
    this.clock = guardedClock(options.clock);
    this.isFailure = options.isFailure;
    this.recorder.name = binding.name;
    binding.track(this);
  }

  /**
   * @internal Counts go to the shared stripe from now on: the registry object this was
   * opened through is handing its stripe back (RegistryCore.releaseStripe).
   */
  retireStripe(): void {
    this.stripe = 0;
    this.binding.counters.retireStripe();
  }

  /** @internal The same breaker with other per-thread options. */
  withOptions(options: BreakerThreadOptions): CircuitBreaker {
    return new CircuitBreaker(this.binding, options);
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
    // One call to the backend: the JS backend's acquire starts with an inlined seq-cst
    // load of the state word and answers Closed at once; the Wasm core's does the same
    // load on its side of the call, which costs less than Atomics.load from JS (a builtin
    // call on Node 20). Anything but Closed goes on to the backend's state machine.
    const r = this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, this.probeLeaseMs, NO_CLOCK);
    if (r === PERMIT_CLOSED) return true;
    return (r === NEED_CLOCK ? this.acquireTimed() : r) !== REJECTED;
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
    const r = this.ops.acquire(this.ctl, this.stripe, this.successThreshold, this.timeoutMs, this.probeLeaseMs, NO_CLOCK);
    return r === NEED_CLOCK ? this.acquireTimed() : r;
  }

  /** acquire with the time: the breaker is Open, or HalfOpen with a probe out. */
  private acquireTimed(): number {
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

  // The records of call and callSync. `permit` is what acquirePermit returned: each
  // record acts only in the period that granted it (a probe whose lease ran out, or a call
  // that outlived the Closed period it started in, is counted and changes no state).

  /** The permit of one call: REFUSED, CLOSED_PERMIT, or a probe's permit (see acquirePermit). */
  private permitForCall(): number {
    return this.acquirePermit();
  }

  private recordOk(start: number, permit: number): void {
    this.succeeded(elapsedNanos(this.clock, start), permit);
  }

  /**
   * Records an error thrown or rejected by the function: a failure, or, when `isFailure`
   * says it is not one, a success (the dependency answered). Returns whether it was a failure.
   */
  private recordError(start: number, permit: number, error: unknown): boolean {
    const failure = isFailureOf(this.isFailure, error);
    if (failure) this.recordFailureSince(start, permit);
    else this.recordOk(start, permit);
    return failure;
  }

  private recordFailureSince(start: number, permit: number): void {
    this.failed(elapsedNanos(this.clock, start), permit);
  }

  /** What a GuardedCall needs of this breaker object (made once per object). */
  private readonly recorder: CallRecorder = {
    name: '',
    recordOk: (start, permit) => this.recordOk(start, permit),
    recordError: (start, permit, error) => this.recordError(start, permit, error),
    recordFailureSince: (start, permit) => this.recordFailureSince(start, permit),
  };

  /**
   * A rejection for an error `fn` threw synchronously, recorded first. Recording a
   * failure may read the clock (to stamp an opening); a custom clock that throws then
   * rejects the call with its error rather than making `call` throw.
   */
  private rejectRecorded(start: number, permit: number, err: unknown): Promise<never> {
    try {
      this.recordError(start, permit, err);
    } catch (recordError) {
      return Promise.reject(recordError);
    }
    return Promise.reject(err);
  }

  private openError(): CircuitOpenError {
    return new CircuitOpenError(this.name, this.state === 'HalfOpen' ? 'HalfOpen' : 'Open');
  }

  /**
   * Runs `fn` under the breaker and returns a promise of its result. Never throws: every
   * outcome, a refusal included, is the returned promise.
   *
   * - Refused (Open, or HalfOpen with every probe slot taken): rejects with
   *   CircuitOpenError without calling `fn`.
   * - Otherwise `fn({ signal })` runs; its value, its promise (or any thenable) and its
   *   synchronous throw all become the promise's outcome, recorded once when it settles,
   *   with its duration on the breaker's clock. An error counts as a failure unless this
   *   thread's `isFailure` says otherwise (then it is recorded as a success and still
   *   reaches the caller).
   * - `options`: `timeoutMs`, `signal`, `fallback` (see CallOptions). Bad options reject
   *   with InvalidOptionsError before anything is asked of the breaker.
   *
   * When `fn` returns a native promise and no option applies, the promise comes back as
   * it is, with the record attached first: awaiting `call(fn)` costs no promise hop more
   * than awaiting `fn()`.
   */
  call<R, F = never>(fn: (context: CallContext) => R | PromiseLike<R>, options?: CallOptions<F>): Promise<Awaited<R> | Awaited<F>> {
    if (options !== undefined || this.callTimeoutMs !== undefined) return this.callScoped(fn, options);
    if (typeof fn !== 'function') return Promise.reject(new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`));
    let start: number;
    let permit: number;
    try {
      start = this.clock();
      permit = this.permitForCall();
    } catch (err) {
      // A clock that throws (or returns garbage) while Open: no permit was taken.
      return Promise.reject(err);
    }
    if (permit === REFUSED) return Promise.reject(this.openError());
    let result: unknown;
    try {
      result = fn(callContext(new LazySignal()));
    } catch (err) {
      return this.rejectRecorded(start, permit, err);
    }
    const p = settleOnce(
      result,
      () => this.recordOk(start, permit),
      (err) => {
        try {
          this.recordError(start, permit, err);
        } catch {
          // Only a custom clock that throws (or returns garbage) while this failure opens
          // the breaker gets here. The caller already has its outcome (the promise is
          // theirs), and a throw here would surface as an unhandled rejection of a promise
          // nobody can see; the clock's fault shows on the next permit asked while Open.
        }
      },
    );
    if (p !== undefined) return p as Promise<Awaited<R>>;
    this.recordOk(start, permit);
    return Promise.resolve(result as Awaited<R>);
  }

  /**
   * `call` with a timeout, a caller's signal or a fallback. The call ends once (CallScope's
   * latch): when `fn` settles, when the timeout passes, or when the caller aborts, and the
   * permit is recorded by whichever comes first:
   * - settled: its result (a failure goes to the fallback, if any);
   * - timed out: one failure, whatever `fn` does later (its late result is ignored);
   * - aborted: nothing is known about the dependency, so a plain permit (taken while
   *   Closed, where a permit holds nothing) is not recorded at all; a half-open probe is
   *   recorded as a failed probe, which frees its slot (a probe slot is held until
   *   recorded) and keeps the breaker from closing on no evidence.
   */
  private callScoped<R, F>(fn: (context: CallContext) => R | PromiseLike<R>, options: CallOptions<F> | undefined): Promise<Awaited<R> | Awaited<F>> {
    let timeoutMs = this.callTimeoutMs;
    let signal: AbortSignal | undefined;
    let fallback: ((error: unknown) => F | PromiseLike<F>) | undefined;
    let permit: number;
    let start: number;
    try {
      if (options !== undefined) {
        let o = options as Record<string, unknown>;
        // The common shapes pass with a for-in over the keys (no key array); anything
        // else goes to the package's options check, which throws the error.
        if (o === null || typeof o !== 'object' || Array.isArray(o)) o = checkOptionsObject(o, CALL_OPTIONS, 'options');
        for (const key in o) if (key !== 'timeoutMs' && key !== 'signal' && key !== 'fallback') checkOptionsObject(o, CALL_OPTIONS, 'options');
        if (o.timeoutMs !== undefined) timeoutMs = checkTimeoutMs('timeoutMs', o.timeoutMs);
        if (o.signal !== undefined) signal = checkSignal('signal', o.signal);
        if (o.fallback !== undefined) {
          if (typeof o.fallback !== 'function') throw new InvalidOptionsError('fallback', `must be a function, got ${describe(o.fallback)}`);
          fallback = o.fallback as (error: unknown) => F | PromiseLike<F>;
        }
      }
      if (typeof fn !== 'function') throw new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`);
      // Before the permit: an aborted caller takes nothing from the breaker.
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      start = this.clock();
      permit = this.permitForCall();
    } catch (err) {
      return Promise.reject(err);
    }
    if (permit === REFUSED) {
      const refusal = this.openError();
      if (fallback === undefined) return Promise.reject(refusal);
      const fb = fallback;
      return new Promise((resolve) => resolve(fb(refusal) as Awaited<F>));
    }
    const call = new GuardedCall(this.recorder, start, permit, fallback as ((error: unknown) => unknown) | undefined, timeoutMs);
    const promise = new Promise<Awaited<R> | Awaited<F>>((resolve, reject) => {
      call.resolve = resolve as (v: unknown) => void;
      call.reject = reject;
    });
    // Deadlines are kept on the monotonic clock; `start` already is one unless this
    // thread gave the breaker a clock of its own.
    call.arm(timeoutMs, timeoutMs === undefined ? 0 : this.clock === monotonicClock ? start : monotonicClock(), signal);
    let result: unknown;
    try {
      result = fn(call.context);
    } catch (err) {
      call.threw(err);
      return promise;
    }
    const p = settleOnce(
      result,
      (value) => call.settled(value),
      (err) => call.threw(err),
    );
    if (p === undefined) call.settled(result);
    return promise;
  }

  /**
   * Runs a synchronous `fn` under the breaker: returns what it returns, rethrows what it
   * throws (a failure unless this thread's `isFailure` says otherwise), and throws
   * CircuitOpenError, without calling `fn`, when refused. The outcome is recorded before
   * `callSync` returns. The value is not inspected: a promise returned by `fn` is a value
   * like any other, recorded as a success at once; use `call` for asynchronous work.
   */
  callSync<R>(fn: () => R): R {
    if (typeof fn !== 'function') throw new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`);
    const start = this.clock();
    const permit = this.permitForCall();
    if (permit === REFUSED) throw this.openError();
    let result: R;
    try {
      result = fn();
    } catch (err) {
      this.recordError(start, permit, err);
      throw err;
    }
    this.recordOk(start, permit);
    return result;
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

  /**
   * Closed, and healthy on its recent record (see src/breaker/health.ts): fewer consecutive
   * failures than half the failureThreshold and, with the failure-rate policy on, fewer than
   * 10 calls or fewer than 10% failures in the rate window. Lifetime counts do not matter,
   * so a breaker that recovered is healthy again.
   */
  isHealthy(): boolean {
    return isHealthySnapshot(this.metricsBigInt(), this.config);
  }

  /**
   * Calls `listener` when this breaker's state changes, whichever thread changed it.
   * Returns a function that unsubscribes. Delivery is asynchronous and coalesced: the
   * listener gets the state as it is when this thread's watcher runs, never the same
   * state twice in a row, and may miss a state that lasted a moment. A pending listener
   * does not keep the process alive. See docs/circuit-breaker.md.
   */
  onStateChange(listener: (change: StateChange) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', 'must be a function');
    return this.binding.watcher.subscribe(listener as StateChangeListener);
  }

  /**
   * The state changes as an async iterator (same delivery as `onStateChange`). Ends when
   * the consumer breaks out of `for await`, or when `signal` aborts. Bad options throw
   * InvalidOptionsError before anything is subscribed.
   */
  stateChanges(options?: { signal?: AbortSignal }): AsyncIterableIterator<StateChange> {
    const { signal } = checkOptionsObject(options, ['signal'], 'options');
    return changeIterator((l) => this.binding.watcher.subscribe(l), signal);
  }
}
