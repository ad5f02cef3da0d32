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
 * call together, and most functions never read the signal, so the context object creates
 * one on the first read of `signal` (if the scope has already ended by then, the new
 * signal is born aborted with the stored reason). A function that destructures
 * `({ signal })` pays for it; one that ignores its argument does not. Every call gets
 * its own signal, so a listener a function forgets to remove dies with its call instead
 * of piling up on a shared never-aborting signal.
 *
 * The timer is unref'd (a pending timeout never keeps a process or worker alive) and is
 * cleared as soon as the call ends any other way, so a settled call leaves no timer
 * behind; the abort listener on the caller's signal is removed the same way.
 */
import { AtomicStatsError, InvalidOptionsError, describe } from '../errors.js';

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

/** What a guarded function receives as its one argument. */
export interface CallContext {
  /**
   * Aborts when the call times out (reason: the CallTimeoutError) or when the caller's
   * signal aborts (reason: the caller's reason). Pass it on to `fetch`, database drivers,
   * timers, so the work stops when nobody waits for it any more.
   */
  readonly signal: AbortSignal;
}

/** Checks a timeout in ms: an integer from 1 to one hour. */
export function checkTimeoutMs(option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CALL_TIMEOUT_MS) {
    throw new InvalidOptionsError(option, `must be an integer from 1 to ${MAX_CALL_TIMEOUT_MS} (ms), got ${describe(v)}`);
  }
  return v;
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
 * One call's context and latch. The object itself is what the function receives (its
 * only public member is `signal`), so a call allocates one object for both.
 */
export class CallScope implements CallContext {
  private controller: AbortController | undefined = undefined;
  private reason: unknown = undefined;
  private ended = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private callerSignal: AbortSignal | undefined = undefined;
  private onAbort: (() => void) | undefined = undefined;

  get signal(): AbortSignal {
    let c = this.controller;
    if (c === undefined) {
      c = this.controller = new AbortController();
      if (this.reason !== undefined) c.abort(this.reason);
    }
    return c.signal;
  }

  /**
   * Arms the timer and the caller's signal. `onEnd(how, reason)` runs when either ends the
   * call first; by then the latch is taken and the function's signal is aborted.
   */
  arm(timeoutMs: number | undefined, callerSignal: AbortSignal | undefined, timeoutError: () => unknown, onEnd: (how: number, reason: unknown) => void): void {
    if (timeoutMs !== undefined) {
      const t = setTimeout(() => {
        const err = timeoutError();
        if (this.end(err)) onEnd(ENDED_BY_TIMEOUT, err);
      }, timeoutMs);
      // A pending timeout must not keep the thread alive: the call's promise does not either.
      t.unref();
      this.timer = t;
    }
    if (callerSignal !== undefined) {
      const onAbort = (): void => {
        const reason = abortReason(callerSignal);
        if (this.end(reason)) onEnd(ENDED_BY_ABORT, reason);
      };
      this.callerSignal = callerSignal;
      this.onAbort = onAbort;
      callerSignal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /**
   * Takes the latch: true for the first caller only. Clears the timer and the listener;
   * with a `reason`, aborts the function's signal (if it was ever read) with it.
   */
  end(reason?: unknown): boolean {
    if (this.ended) return false;
    this.ended = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.callerSignal!.removeEventListener('abort', this.onAbort);
    if (reason !== undefined) {
      this.reason = reason;
      this.controller?.abort(reason);
    }
    return true;
  }
}
