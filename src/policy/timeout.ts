/*
 * The per-call scope of a guarded call: the `{ signal }` handed to the function, the
 * caller's AbortSignal, and the timeout. Nothing here lives in shared memory: a timeout
 * belongs to one call in one thread, so the whole policy is thread-local and the breaker
 * composes it around its permit (the permit is the only shared part of a call).
 *
 * One latch. A call can end three ways: the function settles, the timer fires, or the
 * caller's signal aborts. They can race (a timer callback and a promise reaction are both
 * queued work on the same thread, in either order), so every way goes through `end()`,
 * and only the first one gets `true`: that one records the result and settles the caller's
 * promise; the others find the latch taken and do nothing. This is what makes "one permit,
 * one record" hold when a hung function settles after its timeout.
 *
 * The function's signal is made lazily. An AbortController costs more than the rest of a
 * call together, and most functions never read the signal, so the context creates one on
 * the first read of `signal` (if the scope has already ended by then, the new signal is
 * born aborted with the stored reason). The context presents `signal` as an own property
 * all the same, so that spreading it keeps the signal (see callContext). A function that destructures
 * `({ signal })` pays for it; one that ignores its argument does not. Every call gets
 * its own signal, so a listener a function forgets to remove dies with its call instead
 * of piling up on a shared never-aborting signal.
 *
 * No timer per call. Arming and clearing a Node timer costs more than the rest of a call,
 * so the calls of one thread that share a timeout length share one timer, armed for the
 * earliest pending deadline (DeadlineQueue, below). The timer is unref'd: a pending
 * timeout never keeps a process or worker alive. A call that ends any other way drops
 * its deadline at once (it can no longer time out); the shared timer then fires once
 * more at most, finds nothing due, and stops when nothing is pending. The abort listener
 * on the caller's signal is removed as soon as the call ends.
 */
import { monotonicClock } from '../clock.js';
import { AtomicStatsError, InvalidOptionsError, describe } from '../errors.js';
import { checkIntIn } from '../validate.js';

/** Longest timeout accepted, in ms (one hour): `callTimeoutMs` and `call`'s `timeoutMs`. */
export const MAX_CALL_TIMEOUT_MS = 3_600_000;

/**
 * A guarded call that did not settle within its timeout. The call was recorded as one
 * failure, and the function's `signal` was aborted with this error as its reason.
 */
export class CallTimeoutError extends AtomicStatsError {
  static override readonly code = 'ERR_CALL_TIMEOUT';
  declare readonly code: 'ERR_CALL_TIMEOUT';
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;
  /** The breaker the call ran under. */
  readonly breakerName: string;
  constructor(breakerName: string, timeoutMs: number) {
    super(CallTimeoutError.code, `call under circuit breaker "${breakerName}" timed out after ${timeoutMs} ms`);
    this.breakerName = breakerName;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * What a guarded function receives as its one argument: exactly `{ signal }`. `signal` is
 * an own enumerable property, so `fetch(url, { ...ctx, method: 'POST' })` or
 * `pool.query({ ...ctx, text })` keep it; the context has nothing else and cannot be
 * changed.
 */
export type CallContext = {
  /**
   * Aborts when the call times out (reason: the CallTimeoutError) or when the caller's
   * signal aborts (reason: the caller's reason). Pass it on to `fetch`, database drivers,
   * timers, so the work stops when nobody waits for it any more.
   */
  readonly signal: AbortSignal;
};

/** Checks a timeout in ms: an integer from 1 to one hour. */
export function checkTimeoutMs(option: string, v: unknown): number {
  return checkIntIn(v, option, 1, MAX_CALL_TIMEOUT_MS);
}

/**
 * Checks that `v` is an AbortSignal (this realm's class: its listener methods are then
 * the platform's, which do not throw, so arming and disarming a call cannot fail halfway).
 */
export function checkSignal(option: string, v: unknown): AbortSignal {
  if (!(v instanceof AbortSignal)) throw new InvalidOptionsError(option, `must be an AbortSignal, got ${describe(v)}`);
  return v;
}

/** The reason of an aborted signal; a signal aborted without one gets a DOMException, as `AbortSignal.abort()` would give. */
export function abortReason(signal: AbortSignal): unknown {
  const reason = (signal as { reason?: unknown }).reason;
  return reason !== undefined ? reason : new DOMException('This operation was aborted', 'AbortError');
}

/** How a scope ended, when it did not end by the function settling. */
export const ENDED_BY_TIMEOUT = 1;
export const ENDED_BY_ABORT = 2;

/**
 * The pending deadlines of one timeout length in this thread, in the order they fall due.
 * Calls with the same `timeoutMs` get deadlines start + timeoutMs with `start` read from
 * one monotonic clock, so appending keeps the queue sorted and no per-call ordering work
 * is needed. One unref'd Node timer per queue is armed for the earliest deadline; when
 * it fires, every due call that is still pending ends (timeout), and it is re-armed for
 * the next pending one, or not at all.
 *
 * Ended calls are dropped lazily: from the head on every append (so a thread whose calls
 * finish in time keeps a queue of one), and by a compaction when ended entries outnumber
 * the pending ones by more than a constant (a hung call at the head would otherwise keep
 * every later, settled entry until its own deadline). Both are amortized O(1).
 */
class DeadlineQueue {
  private items: CallScope[] = [];
  private head = 0;
  /** Entries not yet ended. */
  live = 0;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private firing = false;
  private readonly fire = (): void => this.expire();

  constructor(private readonly timeoutMs: number) {}

  sizes(): { entries: number; live: number } {
    return { entries: this.items.length - this.head, live: this.live };
  }

  add(scope: CallScope): void {
    this.live++;
    if (this.firing) {
      // Started by a fallback while expire() walks the queue: only append (expire re-arms).
      this.items.push(scope);
      return;
    }
    const items = this.items;
    while (this.head < items.length && items[this.head]!.ended) this.head++;
    if (this.head === items.length) {
      // Drained: start over at index 0 without shrinking the array (a thread whose calls
      // settle in time writes slot 0 again and again).
      this.head = 0;
      items[0] = scope;
      items.length = 1;
      if (this.timer === undefined) this.arm(scope.deadline);
      return;
    } else if (items.length - this.head > 2 * this.live + 64) {
      this.items = items.filter((s, i) => i >= this.head && !s.ended);
      this.head = 0;
    }
    this.items.push(scope);
    if (this.timer === undefined) this.arm(scope.deadline);
  }

  private arm(deadline: number): void {
    // setTimeout counts whole ms on a loop clock that may lag ours by up to a ms: a
    // timer that fires a little early finds its call not yet due and is re-armed for the
    // rest, so a call never times out before its timeoutMs.
    const t = setTimeout(this.fire, Math.max(1, Math.ceil(deadline - monotonicClock())));
    // A pending timeout must not keep the thread alive: the call's promise does not either.
    t.unref();
    this.timer = t;
  }

  private expire(): void {
    this.timer = undefined;
    this.firing = true;
    const now = monotonicClock();
    let i = this.head;
    try {
      // Ending a call runs the caller's fallback, which may start timed calls; they are
      // appended behind `i` with later deadlines, and the loop stops at them.
      for (; i < this.items.length; i++) {
        const s = this.items[i]!;
        if (s.ended) continue;
        if (s.deadline > now) break;
        s.expire();
      }
    } finally {
      this.firing = false;
      this.head = i;
      if (this.live > 0) {
        for (; this.head < this.items.length && this.items[this.head]!.ended; this.head++);
        this.arm(this.items[this.head]!.deadline);
      } else {
        this.items = [];
        this.head = 0;
        if (queues.get(this.timeoutMs) === this) queues.delete(this.timeoutMs);
      }
    }
  }
}

/** This thread's deadline queues, by timeout length (a queue is dropped once it drains). */
const queues = new Map<number, DeadlineQueue>();

function queueFor(timeoutMs: number): DeadlineQueue {
  let q = queues.get(timeoutMs);
  if (q === undefined) queues.set(timeoutMs, (q = new DeadlineQueue(timeoutMs)));
  return q;
}

/** @internal For tests: each queue's entries (ended ones not yet dropped included) and pending calls. */
export function deadlineQueues(): Map<number, { entries: number; live: number }> {
  return new Map([...queues].map(([ms, q]) => [ms, q.sizes()]));
}

/**
 * The signal behind a call's context: its AbortController is made on the first read (see
 * the top of this file). Only the call's scope holds this object; the function gets it
 * wrapped in a context (callContext) that reaches the signal and nothing else.
 */
export class LazySignal {
  private controller: AbortController | undefined = undefined;
  private reason: unknown = undefined;

  signal(): AbortSignal {
    let c = this.controller;
    if (c === undefined) {
      c = this.controller = new AbortController();
      if (this.reason !== undefined) c.abort(this.reason);
    }
    return c.signal;
  }

  /** Aborts the signal (now, or at birth if it has not been read yet). The first reason wins. */
  abort(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  // util.inspect shows a Proxy's target, not what its traps answer (unless showProxy):
  // without this, console.log(ctx) would print this object's fields. Node calls it with
  // the Proxy (the context) as `this`.
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    const self: unknown = this;
    return inspect({ signal: self instanceof LazySignal ? this.signal() : (self as CallContext).signal }, options);
  }
}

/*
 * The context is a Proxy of the call's LazySignal whose traps present exactly one own,
 * enumerable, read-only data property, `signal`, on an object whose prototype is
 * Object.prototype. Why a Proxy: `signal` must be an own enumerable property (a getter on
 * a prototype is lost by `{ ...ctx }`, which copies own properties only), yet the
 * AbortController behind it must stay lazy, and the alternatives cost more per call, with
 * or without a read of the signal (measured on Node 20): an own accessor, by
 * Object.defineProperty or an object literal's `get`, goes through the runtime, 10x and
 * 70x the cost of this Proxy; an eager AbortController, 200x. A Proxy's target is
 * unreachable, so the function can reach the signal and nothing of the call: not the
 * controller, not the latch, not a way to abort its own signal. Writes, deletes, property
 * definitions, prototype changes and freezing are refused (a TypeError in strict code):
 * the context is immutable, though Object.isFrozen says false (a lazy property cannot be
 * reported frozen without existing on the target).
 *
 * The invariants of the Proxy traps hold: the target is extensible and has no own
 * `signal`, so `signal` may be reported as a configurable own property and the target's
 * own fields may be left out of ownKeys.
 */
const refuse = (): boolean => false;
const contextTraps: ProxyHandler<LazySignal> = {
  get: (t, key) => (key === 'signal' ? t.signal() : undefined),
  has: (_t, key) => key === 'signal',
  ownKeys: () => ['signal'],
  getOwnPropertyDescriptor: (t, key) => (key === 'signal' ? { value: t.signal(), writable: false, enumerable: true, configurable: true } : undefined),
  getPrototypeOf: () => Object.prototype,
  setPrototypeOf: refuse,
  set: refuse,
  defineProperty: refuse,
  deleteProperty: refuse,
  preventExtensions: refuse,
};

/** The `{ signal }` a function is called with, over `lazy`. One per call. */
export function callContext(lazy: LazySignal): CallContext {
  return new Proxy(lazy, contextTraps) as unknown as CallContext;
}

/**
 * One call's latch, deadline and caller's signal, around the context its function gets
 * (a separate object, so the function can reach its signal and nothing of the latch). A
 * policy composes it by subclassing: `onEnded` (a timeout or an abort ended the call)
 * and `timeoutReason` are methods rather than callbacks, so arming a call allocates
 * nothing beyond the two objects and, with a caller's signal, its listener.
 */
export class CallScope {
  private readonly lazy = new LazySignal();
  /** What the function is called with. */
  readonly context: CallContext = callContext(this.lazy);
  /** @internal Read by the deadline queue. */
  ended = false;
  /** @internal When the call times out, in ms of `monotonicClock`. */
  deadline = 0;
  private queue: DeadlineQueue | undefined = undefined;
  private callerSignal: AbortSignal | undefined = undefined;
  private onAbort: (() => void) | undefined = undefined;

  /** Called once when a timeout or the caller's signal ended the call (the latch is taken, fn's signal aborted). */
  protected onEnded(_how: number, _reason: unknown): void {}

  /** The reason a timeout aborts the call with. */
  protected timeoutReason(): unknown {
    return new DOMException('The operation timed out', 'TimeoutError');
  }

  /**
   * Arms the timeout (`nowMs` is the start, in ms of `monotonicClock`) and the caller's
   * signal, both optional.
   */
  arm(timeoutMs: number | undefined, nowMs: number, callerSignal: AbortSignal | undefined): void {
    if (timeoutMs !== undefined) {
      this.deadline = nowMs + timeoutMs;
      this.queue = queueFor(timeoutMs);
      this.queue.add(this);
    }
    if (callerSignal !== undefined) {
      const onAbort = (): void => {
        const reason = abortReason(callerSignal);
        if (this.end(reason)) this.onEnded(ENDED_BY_ABORT, reason);
      };
      this.callerSignal = callerSignal;
      this.onAbort = onAbort;
      callerSignal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** @internal The deadline passed (called by the queue). */
  expire(): void {
    const reason = this.timeoutReason();
    if (this.end(reason)) this.onEnded(ENDED_BY_TIMEOUT, reason);
  }

  /**
   * Takes the latch: true for the first caller only. Drops the deadline and the listener;
   * with a `reason`, aborts the function's signal (if it was ever read) with it.
   */
  end(reason?: unknown): boolean {
    if (this.ended) return false;
    this.ended = true;
    if (this.queue !== undefined) {
      this.queue.live--;
      this.queue = undefined;
    }
    if (this.onAbort !== undefined) {
      this.callerSignal!.removeEventListener('abort', this.onAbort);
      this.onAbort = undefined;
      this.callerSignal = undefined;
    }
    if (reason !== undefined) this.lazy.abort(reason);
    return true;
  }
}
