/*
 * A breaker's per-call events, delivered in the thread that made the call.
 *
 * The state machine and its counts are shared by every thread; an event is not: it is one
 * call's outcome, reported to listeners of the thread (and registry object) that made
 * the call, synchronously, as the call settles. Listeners live on the thread's binding of
 * the breaker, so every breaker object this registry object opened under the name (with
 * whatever per-thread options) reports to them.
 *
 * Nothing is paid without listeners: a call path tests one field (`count`) before it builds
 * an event object, and the synchronous guard (tryAcquire / record*) emits nothing at all,
 * so its hot path is untouched. A listener that throws does not change the call's outcome
 * nor stop the other listeners: its error is rethrown from a microtask, as Node reports an
 * exception thrown by any callback (the same as onStateChange's listeners).
 */
import { InvalidOptionsError, describe } from '../errors.js';
import type { CallTimeoutError } from '../policy/timeout.js';
import type { CircuitOpenError } from './errors.js';

/** What each event's listener receives. */
export interface BreakerEventMap {
  /** The call succeeded (or failed with an error `isFailure` let through, which counts as a success). */
  success: { durationMs: number };
  /** The call failed (thrown, rejected, or timed out: a timeout is a failure, then a 'timeout'). */
  failure: { error: unknown; durationMs: number };
  /** The call timed out (after its 'failure'). */
  timeout: { error: CallTimeoutError; durationMs: number };
  /** The breaker refused the call. */
  reject: { error: CircuitOpenError };
  /** The call's fallback was taken, for this error (a refusal, a timeout or a failure). */
  fallback: { error: unknown };
}

export type BreakerEventName = keyof BreakerEventMap;
export type BreakerEventListener<E extends BreakerEventName> = (event: BreakerEventMap[E]) => void;

const NAMES: readonly BreakerEventName[] = ['success', 'failure', 'timeout', 'reject', 'fallback'];

/** @internal The listeners of one breaker in one thread (one registry object). */
export class BreakerEvents {
  /** Listeners attached, all events together: the call paths test this before emitting. */
  count = 0;
  private readonly lists: Record<BreakerEventName, ((event: unknown) => void)[]> = {
    success: [],
    failure: [],
    timeout: [],
    reject: [],
    fallback: [],
  };

  /** Adds a listener; returns the function that removes it (once). Bad input throws and adds nothing. */
  on(name: unknown, listener: unknown): () => void {
    if (typeof name !== 'string' || !(NAMES as readonly string[]).includes(name)) {
      throw new InvalidOptionsError('event', `must be one of ${NAMES.map((n) => `'${n}'`).join(', ')}, got ${describe(name)}`);
    }
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', `must be a function, got ${describe(listener)}`);
    // A copy on write: an emit in progress keeps iterating the list it started with.
    const key = name as BreakerEventName;
    const entry = (event: unknown): void => (listener as (e: unknown) => void)(event);
    this.lists[key] = [...this.lists[key], entry];
    this.count++;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      this.lists[key] = this.lists[key].filter((l) => l !== entry);
      this.count--;
    };
  }

  emit<E extends BreakerEventName>(name: E, event: BreakerEventMap[E]): void {
    const list = this.lists[name];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
