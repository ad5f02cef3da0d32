/*
 * The Bulkhead object one thread holds: the synchronous guard (tryAcquire / release), the
 * guarded call (call(fn, { signal })) with its wait in the shared queue, and the snapshot.
 * The shared protocol is bulkhead-core.ts; this file is what a call does around it, all of
 * it in the calling thread.
 *
 * A call's life: validated; an already-aborted signal rejects with nothing taken; a free
 * permit (nobody waiting) runs `fn` at once; otherwise it takes a place in the queue, or is
 * refused with BulkheadFullError when the queue is full. A waiting call parks on its queue
 * slot with Atomics.waitAsync, never spinning, and wakes when it is handed a permit, when
 * its queue timeout passes, when its caller aborts (which frees its place at once) or when
 * the earliest lease it noted can end (to take back the permits of a terminated thread).
 * `fn` runs with `{ signal }` (the breaker's lazy per-call signal, policy/timeout.ts),
 * which aborts when the caller's signal does. The permit is released when `fn` settles,
 * never before: a caller that gave up gets its rejection at once, but `fn`, still running,
 * keeps its permit until it ends, so the limit holds for the work itself.
 */
import { settleOnce } from '../breaker/execute.js';
import { type Clock, monotonicClock } from '../clock.js';
import { InvalidOptionsError, UnsafeIntegerError, describe } from '../errors.js';
import { type CallContext, CallScope, ENDED_BY_ABORT, LazySignal, abortReason, callContext, checkSignal } from '../policy/timeout.js';
import type { Counter, CounterSet } from '../sets/counter-set.js';
import { checkOptionsObject } from '../validate.js';
import type { ResolvedBulkheadConfig } from './bulkhead-config.js';
import { type BulkheadCore, LATE } from './bulkhead-core.js';
import { BulkheadFullError } from './errors.js';

// Atomics.waitAsync is ES2024; the package compiles against ES2022's declarations.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): WaitAsyncResult }).waitAsync;

/** The bulkhead's counters, in cell order. */
export const BULKHEAD_FIELDS = ['admitted', 'rejected', 'queue_timeouts', 'queue_aborts', 'enqueued', 'reclaimed', 'late_releases'] as const;
export type BulkheadField = (typeof BULKHEAD_FIELDS)[number];

/** @internal Everything one thread knows about one bulkhead record. */
export interface BulkheadBinding {
  readonly name: string;
  readonly config: ResolvedBulkheadConfig;
  readonly core: BulkheadCore;
  readonly i32: Int32Array;
  readonly counters: CounterSet<BulkheadField>;
  /** Permits this thread took with tryAcquire() and has not released: (index, word) pairs. */
  readonly held: number[];
}

/** `metrics()`: the bulkhead now, all threads together. */
export interface BulkheadMetrics {
  /** Calls holding a permit now. */
  active: number;
  /** Calls waiting in the queue now. */
  queued: number;
  /** Permits granted, at once or from the queue (tryAcquire's `true`s included). */
  admitted: number;
  /** Calls refused at once: no permit free and no place in the queue (tryAcquire's `false`s included). */
  rejected: number;
  /** Calls that waited `queueTimeoutMs` without a permit. */
  queue_timeouts: number;
  /** Calls whose caller aborted while they waited in the queue. */
  queue_aborts: number;
  /** Calls that had to wait in the queue. */
  enqueued: number;
  /** Permits taken back from a holder whose lease ran out (a terminated thread, or a call slower than leaseMs). */
  reclaimed: number;
  /** Releases of a permit that had been taken back already (they change nothing). */
  late_releases: number;
}

/** The same snapshot with every count exact, as a bigint. */
export type BulkheadMetricsBigInt = { [K in keyof BulkheadMetrics]: bigint };

/** The options of one `call`. */
export interface BulkheadCallOptions {
  /**
   * The caller's AbortSignal. Aborting it rejects the call at once with the signal's
   * reason: a waiting call gives its place in the queue back; a running call's function
   * has its signal aborted (its permit is released when it settles). An already-aborted
   * signal rejects without taking anything.
   */
  signal?: AbortSignal;
}

const CALL_OPTIONS = ['signal'];
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/*
 * A pending Atomics.waitAsync holds no event-loop handle, so a thread whose only work left
 * is a queued call would exit in the middle of it. A queued call is work in progress (it
 * will run when a permit comes), so while any call of this thread waits, one ref'd timer
 * keeps the thread alive; it is cleared when the last waiter of the thread is done.
 */
let waitingHere = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;
function holdThread(): void {
  if (waitingHere++ === 0) keepAlive = setInterval(() => {}, 0x7fffffff);
}
function releaseThread(): void {
  if (--waitingHere === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

const QUEUED = 1;
const RUNNING = 2;

/** What a BulkheadCall needs of its bulkhead object. */
interface CallHost {
  readonly name: string;
  readonly config: ResolvedBulkheadConfig;
  readonly core: BulkheadCore;
  readonly i32: Int32Array;
  readonly clock: Clock;
  readonly c: Record<BulkheadField, Counter>;
  releasePermit(i: number, word: number): void;
  fullError(): BulkheadFullError;
}

const unset = (): void => {};

/**
 * One call with a caller's signal, or one that has to wait: the scope (the function's lazy
 * signal, the caller's signal and the latch, policy/timeout.ts) and its place in the queue
 * or its permit. The latch settles the caller's promise once; the permit is released
 * once, when `fn` settles, whatever the latch says.
 */
class BulkheadCall<R> extends CallScope {
  resolve: (value: Awaited<R>) => void = unset;
  reject: (error: unknown) => void = unset;
  private phase = 0;
  private slot = -1;
  private ticketWord = 0;
  private permit = -1;
  private word = 0;

  constructor(
    private readonly host: CallHost,
    private readonly fn: (context: CallContext) => R | PromiseLike<R>,
  ) {
    super();
  }

  protected override onEnded(how: number, reason: unknown): void {
    if (how === ENDED_BY_ABORT && this.phase === QUEUED) {
      const core = this.host.core;
      if (core.cancel(this.slot, this.ticketWord)) this.host.c.queue_aborts.inc();
      else {
        // Handed a permit as it gave up: hand it on.
        const i = core.consume(this.slot);
        if (i >= 0) this.host.releasePermit(i, core.word);
      }
    }
    this.reject(reason);
  }

  /** Runs `fn` on permit `i` (already counted as admitted). */
  run(i: number, word: number): void {
    this.phase = RUNNING;
    this.permit = i;
    this.word = word;
    let result: unknown;
    try {
      result = this.fn(this.context);
    } catch (err) {
      this.threw(err);
      return;
    }
    const p = settleOnce(
      result,
      (v) => this.settled(v),
      (e) => this.threw(e),
    );
    if (p === undefined) this.settled(result);
  }

  private settled(value: unknown): void {
    this.host.releasePermit(this.permit, this.word);
    if (this.end()) this.resolve(value as Awaited<R>);
  }

  private threw(error: unknown): void {
    this.host.releasePermit(this.permit, this.word);
    if (this.end()) this.reject(error);
  }

  /** Takes a place in the queue and waits for a permit; rejects with BulkheadFullError when there is none. */
  wait(): void {
    const host = this.host;
    const core = host.core;
    let k = core.enqueue();
    if (k < 0) {
      // Full: permits of a terminated holder may be due back; then try once more.
      sweep(host);
      const i = core.take(0);
      if (i >= 0) {
        host.c.admitted.inc();
        this.run(i, core.word);
        return;
      }
      k = core.enqueue();
      if (k < 0) {
        host.c.rejected.inc();
        if (this.end()) this.reject(host.fullError());
        return;
      }
    }
    host.c.enqueued.inc();
    this.phase = QUEUED;
    this.slot = k;
    this.ticketWord = core.ticketWord;
    // The waiter's half of "no lost wake-up" (bulkhead-core.ts): a permit freed before
    // this slot was there is handed out now, to the oldest waiter (maybe this one).
    core.dispatch();
    holdThread();
    void this.waitForGrant().finally(releaseThread);
  }

  private async waitForGrant(): Promise<void> {
    const host = this.host;
    const core = host.core;
    const timeoutMs = host.config.queueTimeoutMs;
    const deadline = timeoutMs === null ? Infinity : monotonicClock() + timeoutMs;
    const at = core.slotIndex(this.slot);
    for (;;) {
      if (this.ended) return;
      if (core.slot(this.slot) !== this.ticketWord) {
        // Handed a permit (or, rarely, the grant went stale while this thread did not
        // wake for a whole lease: then queue again, at the back).
        const i = core.consume(this.slot);
        if (i >= 0) {
          this.run(i, core.word);
          return;
        }
        this.wait();
        return;
      }
      const now = monotonicClock();
      if (now >= deadline) {
        if (core.cancel(this.slot, this.ticketWord)) {
          host.c.queue_timeouts.inc();
          if (this.end()) this.reject(new BulkheadFullError(host.name, 'timeout', `waited ${timeoutMs} ms`));
          return;
        }
        continue; // granted just in time
      }
      const untilLease = sweep(host);
      if (core.slot(this.slot) !== this.ticketWord) continue;
      const w = waitAsync(host.i32, at, this.ticketWord, Math.min(deadline - now, untilLease + 1));
      if (w.async) await w.value;
    }
  }
}

/** The lease check on the bulkhead's clock: returns ms until the next noted lease can end. */
function sweep(host: CallHost): number {
  return host.core.sweep(Math.floor(host.clock()));
}

/**
 * A bulkhead in a registry's shared memory: at most `maxConcurrent` calls, all threads
 * together, hold a permit at once; others wait in one FIFO queue shared by every thread
 * (up to `maxQueued`), or are refused with BulkheadFullError.
 *
 * - `call(fn, { signal }?)`: runs `fn({ signal })` under a permit; always a promise.
 * - `tryAcquire()` / `release()`: the synchronous guard; every `true` must be followed by
 *   exactly one `release()` in the same thread.
 * - `metrics()`: active, queued and the lifetime counts.
 *
 * The user guide is docs/resilience.md.
 */
export class Bulkhead {
  /** The bulkhead's name in the registry. */
  readonly name: string;
  /** Its configuration (the same in every thread). */
  readonly config: ResolvedBulkheadConfig;
  private readonly binding: BulkheadBinding;
  private readonly host: CallHost;
  private readonly core: BulkheadCore;
  private readonly admitted: Counter;
  private readonly rejected: Counter;
  private readonly lateReleases: Counter;
  // Where this object looks for a free permit first: the one it took last.
  private hint = 0;

  /** @internal Use `registry.bulkhead(name, config?, options?)`. */
  constructor(binding: BulkheadBinding, clock: Clock) {
    this.binding = binding;
    this.name = binding.name;
    this.config = binding.config;
    this.core = binding.core;
    const set = binding.counters;
    const c = Object.fromEntries(set.fields.map((f) => [f, set.counter(f)])) as Record<BulkheadField, Counter>;
    this.admitted = c.admitted;
    this.rejected = c.rejected;
    this.lateReleases = c.late_releases;
    this.host = {
      name: binding.name,
      config: binding.config,
      core: binding.core,
      i32: binding.i32,
      clock,
      c,
      releasePermit: (i, word) => this.releasePermit(i, word),
      fullError: () => this.fullError(),
    };
  }

  /** @internal The same bulkhead with another clock (per-thread options). */
  withClock(clock: Clock): Bulkhead {
    return new Bulkhead(this.binding, clock);
  }

  /** @internal Counts go to the shared stripe from now on (the registry object is handing its stripe back). */
  retireStripe(): void {
    this.binding.counters.retireStripe();
  }

  /**
   * Takes a permit if one is free and nobody waits for one; never waits. `true`: run the
   * work, then call `release()` exactly once, in this thread. `false` is counted in
   * `rejected`. A full bulkhead first checks whether a permit's lease has run out (and
   * takes it back).
   */
  tryAcquire(): boolean {
    const core = this.core;
    let i = core.take(this.hint);
    if (i < 0) {
      sweep(this.host);
      i = core.take(this.hint);
      if (i < 0) {
        this.rejected.inc();
        return false;
      }
    }
    this.hint = i;
    this.admitted.inc();
    this.binding.held.push(i, core.word);
    return true;
  }

  /**
   * Releases the permit this thread's last unreleased `tryAcquire()` took (a permit is a
   * permit: the order does not matter), and hands it to the oldest waiter of any thread.
   * Without one, throws InvalidOptionsError and changes nothing.
   */
  release(): void {
    const held = this.binding.held;
    if (held.length === 0) {
      throw new InvalidOptionsError('release', `this thread holds no permit of bulkhead "${this.name}" (every release() follows a tryAcquire() that returned true)`);
    }
    const word = held.pop()!;
    this.releasePermit(held.pop()!, word);
  }

  private releasePermit(i: number, word: number): void {
    if (this.core.release(i, word) === LATE) this.lateReleases.inc();
  }

  private fullError(): BulkheadFullError {
    const { maxConcurrent, maxQueued } = this.config;
    return new BulkheadFullError(this.name, 'full', `${maxConcurrent} running${maxQueued === 0 ? ', no queue' : `, ${maxQueued} waiting`}`);
  }

  /**
   * Runs `fn({ signal })` under a permit and returns a promise of its result; never throws.
   * Waits in the queue when every permit is held (up to `maxQueued` calls, at most
   * `queueTimeoutMs`); rejects with BulkheadFullError when it cannot (reason `'full'` or
   * `'timeout'`), with the signal's reason when the caller aborts, with `fn`'s error when
   * `fn` throws or rejects. The permit is released when `fn` settles.
   */
  call<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: BulkheadCallOptions): Promise<Awaited<R>> {
    if (options === undefined) {
      if (typeof fn !== 'function') return Promise.reject(new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`));
      const core = this.core;
      const i = core.take(this.hint);
      if (i >= 0) {
        this.hint = i;
        this.admitted.inc();
        return this.runBare(fn, i, core.word);
      }
    }
    return this.callScoped(fn, options);
  }

  // The fast path: a permit at once and no caller's signal. The permit's release is
  // attached to fn's own promise first, and that promise returned: no hop is added.
  private runBare<R>(fn: (context: CallContext) => R | PromiseLike<R>, i: number, word: number): Promise<Awaited<R>> {
    let result: unknown;
    try {
      result = fn(callContext(new LazySignal()));
    } catch (err) {
      this.releasePermit(i, word);
      return Promise.reject(err);
    }
    // Inline arrows, not a named local: the bundle keeps function names (tsup keepNames),
    // which costs a defineProperty on every named closure made, here once per call.
    const p = settleOnce(
      result,
      () => this.releasePermit(i, word),
      () => this.releasePermit(i, word),
    );
    if (p !== undefined) return p as Promise<Awaited<R>>;
    this.releasePermit(i, word);
    return Promise.resolve(result as Awaited<R>);
  }

  private callScoped<R>(fn: (context: CallContext) => R | PromiseLike<R>, options: BulkheadCallOptions | undefined): Promise<Awaited<R>> {
    let signal: AbortSignal | undefined;
    try {
      const o = checkOptionsObject(options, CALL_OPTIONS, 'options');
      if (o.signal !== undefined) signal = checkSignal('signal', o.signal);
      if (typeof fn !== 'function') throw new InvalidOptionsError('fn', `must be a function, got ${describe(fn)}`);
    } catch (err) {
      return Promise.reject(err);
    }
    // Before anything is taken: an aborted caller takes nothing.
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const call = new BulkheadCall<R>(this.host, fn);
    const promise = new Promise<Awaited<R>>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    call.arm(undefined, 0, signal);
    const core = this.core;
    const i = core.take(this.hint);
    if (i >= 0) {
      this.hint = i;
      this.admitted.inc();
      call.run(i, core.word);
    } else if (this.config.maxQueued === 0) {
      // No queue: only a permit whose lease ran out can admit this call.
      sweep(this.host);
      const j = core.take(this.hint);
      if (j >= 0) {
        this.admitted.inc();
        call.run(j, core.word);
      } else {
        this.rejected.inc();
        if (call.end()) call.reject(this.fullError());
      }
    } else {
      call.wait();
    }
    return promise;
  }

  /** The snapshot: active and queued now, and the lifetime counts of every thread (see BulkheadMetrics). */
  metrics(): BulkheadMetrics {
    const m = this.metricsBigInt();
    const out = {} as BulkheadMetrics;
    for (const [k, v] of Object.entries(m) as [keyof BulkheadMetrics, bigint][]) {
      if (v > MAX_SAFE) throw new UnsafeIntegerError(this.name, k);
      out[k] = Number(v);
    }
    return out;
  }

  /** The snapshot with every count as an exact bigint. */
  metricsBigInt(): BulkheadMetricsBigInt {
    const c = this.binding.counters.snapshotBigInt();
    return {
      active: BigInt(this.core.active()),
      queued: BigInt(this.core.queued()),
      admitted: c.admitted,
      rejected: c.rejected,
      queue_timeouts: c.queue_timeouts,
      queue_aborts: c.queue_aborts,
      enqueued: c.enqueued,
      reclaimed: c.reclaimed,
      late_releases: c.late_releases,
    };
  }
}
