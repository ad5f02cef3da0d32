/*
 * The step every guarded call shares: run the function, spot a thenable, time it,
 * classify its error. Kept in one place (cockatiel's Executor does the same job) so that
 * `call` with and without policies, and `callSync`, agree on what a result is.
 *
 * What counts as asynchronous. A function may return anything, including objects built to
 * break the caller: a thenable whose `then` getter throws, a revoked Proxy (every
 * operation on it throws), a `then` that throws, calls back twice or never, a Promise
 * subclass with a broken `then`. The breaker needs exactly one outcome per permit, so it
 * never inspects such a value itself: it hands it to the resolve function of a promise of
 * its own (`new Promise((resolve) => resolve(value))`). The language then does the
 * defensive work once, by specification: `then` is read once (a throwing read rejects),
 * called once, in a later job, with one-shot resolve/reject functions (a second callback
 * is ignored, a throw after a callback is ignored), and a value without a callable `then`
 * fulfils as itself. What the breaker reacts to is always a native promise that settles
 * at most once. A thenable that never calls back leaves that promise pending: only a
 * timeout (or the probe lease, for a half-open probe) ends such a call.
 *
 * The fast path. A plain native promise (prototype Promise.prototype) is not wrapped: the
 * reaction is attached with the intrinsic `Promise.prototype.then`, which works on the
 * promise's internal state and ignores any `then` property a caller put on the object,
 * and the promise itself goes back to the caller. Attached first, the reaction runs before
 * the caller's `await` resumes, so the record is in by then, and the caller pays no extra
 * promise hop. If anything in that check throws or lies (a Proxy claiming the prototype
 * has no internal state, and the intrinsic `then` refuses it before registering
 * anything), the value takes the general path above.
 */
import type { Clock } from '../clock.js';

const TWO64 = 2 ** 64;
const PromiseProto = Promise.prototype;
const nativeThen = Promise.prototype.then;

/** Decides whether an error counts as a failure of the guarded dependency. */
export type FailurePredicate = (error: unknown) => boolean;

/**
 * Calls `onFulfilled` / `onRejected` (exactly one of them, once) when `value` settles, and
 * returns the native promise the caller should get: `value` itself when it is a plain
 * native promise, otherwise a promise of ours that adopts it. A plain value (not an
 * object or function) returns undefined and calls nothing: the caller records it at once.
 */
export function settleOnce(
  value: unknown,
  onFulfilled: (v: unknown) => unknown,
  onRejected: (e: unknown) => unknown,
): Promise<unknown> | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  try {
    if (Object.getPrototypeOf(value) === PromiseProto) {
      // The derived promise is never exposed; the handlers return normally, so it cannot
      // go unhandled.
      nativeThen.call(value, onFulfilled, onRejected);
      return value as Promise<unknown>;
    }
  } catch {
    // A revoked Proxy, a lying getPrototypeOf trap, a throwing `constructor` getter:
    // nothing was attached; the general path below turns it into one outcome.
  }
  const own = new Promise((resolve) => resolve(value));
  nativeThen.call(own, onFulfilled, onRejected);
  return own;
}

/**
 * Whether `error` is a failure under `isFailure`: anything the predicate does not answer
 * with a falsy value, including a throw from the predicate itself (a broken filter must
 * not hide failures). Without a predicate every error is a failure.
 */
export function isFailureOf(isFailure: FailurePredicate | undefined, error: unknown): boolean {
  if (isFailure === undefined) return true;
  try {
    return !!isFailure(error);
  } catch {
    return true;
  }
}

/**
 * Nanoseconds since `start` (ms of `clock`). A clock that throws or goes backwards gives
 * 0: the duration is a statistic, and a bad reading must not stop the result from being
 * recorded.
 */
export function elapsedNanos(clock: Clock, start: number): number {
  let end: number;
  try {
    end = clock();
  } catch {
    return 0;
  }
  const d = (end - start) * 1e6;
  return d > 0 && d < TWO64 ? d : 0;
}
