/*
 * Telling a thread that a breaker changed state, whichever thread changed it.
 *
 * Every change of the state code ends with a notify on the state word (memory.atomic.notify
 * in the Wasm core, Atomics.notify in the JS twin), and both wake the Atomics.waitAsync
 * waiters of every thread on that address. Each thread runs at most one watcher per
 * breaker, however many listeners it has: it reads the word, waits asynchronously for it
 * to differ from what it read, and on waking compares the state with what each listener
 * last heard.
 *
 * No lost wake-ups: waitAsync compares the word with the expected value atomically with
 * registering, so a change that lands between our read and the wait makes the wait return
 * 'not-equal' at once. Changes that only touch the word's number (a probe claimed, a
 * failure counted) do not notify; a watcher whose expected word went stale that way
 * returns at once, finds the same state, and waits again on the new word.
 *
 * A notify that never comes. A change is a compare-and-swap of the word and then a
 * notify; in the JS twin (and in 'auto', the success that closes a breaker) those are two
 * calls, and V8 can stop a terminated thread between any two. The word then holds the new
 * state and nobody is told: a watcher parked with no timeout would hear nothing until
 * some later change, however long. So a watcher's wait ends after WATCH_BACKSTOP_MS
 * (1 s) whatever happens, and it reads the word again: a change whose notify was lost is
 * heard within that bound. The cost, while nothing changes, is one wake-up per second
 * per breaker watched in a thread: a load and a comparison, and no listener called. (A
 * timed waitAsync holds no event-loop handle either: the process still exits.)
 *
 * Coalescing: a listener hears the state as it is when its watcher runs, so two quick
 * changes (Open -> HalfOpen -> Open) may be heard as one, or as none when the state is
 * back where it was; a listener never hears the same state twice in a row. Count
 * reopenings with `times_opened`, not with events.
 *
 * Process lifetime: a pending Atomics.waitAsync does not keep Node's event loop alive, so
 * a watcher never stops a process or worker from exiting (it simply stops being called
 * when its thread ends). A thread whose only job is to wait for a state change must keep
 * itself alive some other way. When its last listener leaves, the watcher wakes itself
 * with a notify on the word (other threads' watchers wake too, find nothing new and wait
 * again) and ends, rather than staying parked on the word.
 */
import { checkSignal } from '../policy/timeout.js';
import { type CircuitState, stateOfWord } from './state.js';

// Atomics.waitAsync is ES2024; the package compiles against ES2022's declarations.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const AtomicsWithWaitAsync = Atomics as unknown as {
  waitAsync(typedArray: Int32Array, index: number, value: number, timeout: number): WaitAsyncResult;
};

/** Longest a watcher waits on the state word before reading it again (see the essay: a lost notify). */
export const WATCH_BACKSTOP_MS = 1000;

/** One observed state change. */
export interface StateChange {
  readonly state: CircuitState;
  readonly previous: CircuitState;
}

export type StateChangeListener = (change: StateChange) => void;

interface Subscription {
  readonly listener: StateChangeListener;
  last: CircuitState;
}

export class StateWatcher {
  private readonly i32: Int32Array;
  private readonly index: number;
  private readonly subs = new Set<Subscription>();
  private running = false;

  constructor(i32: Int32Array, ctl: number) {
    this.i32 = i32;
    this.index = ctl >>> 2;
  }

  subscribe(listener: StateChangeListener): () => void {
    const sub: Subscription = { listener, last: stateOfWord(Atomics.load(this.i32, this.index)) };
    this.subs.add(sub);
    if (!this.running) {
      this.running = true;
      void this.run();
    }
    return () => {
      if (this.subs.delete(sub) && this.subs.size === 0) Atomics.notify(this.i32, this.index);
    };
  }

  private async run(): Promise<void> {
    try {
      while (this.subs.size > 0) {
        const word = Atomics.load(this.i32, this.index);
        this.deliver(stateOfWord(word));
        if (this.subs.size === 0) break;
        const wait = AtomicsWithWaitAsync.waitAsync(this.i32, this.index, word, WATCH_BACKSTOP_MS);
        if (wait.async) await wait.value;
      }
    } finally {
      this.running = false;
    }
  }

  private deliver(state: CircuitState): void {
    for (const sub of [...this.subs]) {
      if (sub.last === state || !this.subs.has(sub)) continue;
      const change: StateChange = { state, previous: sub.last };
      sub.last = state;
      try {
        sub.listener(change);
      } catch (err) {
        // A listener's failure is the listener's: report it as Node reports an exception
        // thrown by any callback, without stopping the other listeners or the watcher.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/**
 * An async iterator over the changes `subscribe` delivers, buffering those the consumer
 * has not yet taken. `return()` (a `break` out of `for await`) or the signal unsubscribes.
 */
export function changeIterator(
  subscribe: (l: StateChangeListener) => () => void,
  signalOption?: unknown,
): AsyncIterableIterator<StateChange> {
  // Checked before subscribing: a bad signal must leave no subscription (and no running
  // watcher) behind.
  const signal = signalOption === undefined ? undefined : checkSignal('signal', signalOption);
  const queue: StateChange[] = [];
  let wake: ((r: IteratorResult<StateChange>) => void) | undefined;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    unsubscribe();
    signal?.removeEventListener('abort', finish);
    wake?.({ value: undefined, done: true });
    wake = undefined;
  };
  const unsubscribe = subscribe((change) => {
    if (wake !== undefined) {
      const w = wake;
      wake = undefined;
      w({ value: change, done: false });
    } else {
      queue.push(change);
    }
  });
  if (signal?.aborted) finish();
  else signal?.addEventListener('abort', finish, { once: true });
  const it: AsyncIterableIterator<StateChange> = {
    next(): Promise<IteratorResult<StateChange>> {
      const change = queue.shift();
      if (change !== undefined) return Promise.resolve({ value: change, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        wake = resolve;
      });
    },
    return(): Promise<IteratorResult<StateChange>> {
      finish();
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
