/*
 * Stall detection: `registry.watchThreads({ stallMs }, callback)`.
 *
 * A thread publishes every `intervalMs` while its event loop runs (monitor.ts), so a
 * heartbeat older than `intervalMs + stallMs` means its loop has run nothing for at least
 * `stallMs`: the thread is stalled (a synchronous task, a deadlock on Atomics.wait, a
 * tight loop). Measured against each thread's own interval, so one threshold fits threads
 * that publish at different rates, and a thread never looks stalled merely for having a
 * long interval.
 *
 * The watcher polls the table on an unref'd timer of the watching thread, every stallMs / 4
 * (between 10 and 250 ms), so it fires at most that long after the stall began to count.
 * It fires once per stall: a stall is identified by the slot, the thread and the heartbeat
 * it stopped at, and it is over when that thread publishes again (a later stall has a
 * later heartbeat, and fires again). It never fires for a thread that ended: a slot whose
 * thread is no longer alive (table.ts) is not looked at. The watcher must run in a thread
 * other than the ones it watches for a stall: a stalled thread runs no timer, its own
 * watcher's included.
 *
 * A callback that throws does not stop the watcher or the other callbacks of the same
 * poll: its error is rethrown from a microtask, as an uncaught exception of the thread.
 */
import { monotonicClock } from '../clock.js';
import { InvalidOptionsError, describe } from '../errors.js';
import { type ThreadInfo, threadInfo } from './info.js';
import { F_HEARTBEAT } from './layout.js';
import { type ThreadWatchOptions, checkWatchOptions } from './options.js';
import type { ThreadTable } from './table.js';

export type { ThreadWatchOptions } from './options.js';

/** A running stall watcher; see `registry.watchThreads`. */
export interface ThreadWatch {
  /** Stops watching. Idempotent. */
  stop(): void;
  [Symbol.dispose](): void;
}

export type StallListener = (info: ThreadInfo) => void;

/**
 * Starts a watcher on the table `find()` returns (undefined while no thread has been
 * monitored yet: then each poll looks again).
 */
export function startWatch(find: () => ThreadTable | undefined, options: ThreadWatchOptions | undefined, callback: StallListener): ThreadWatch {
  const { stallMs } = checkWatchOptions(options);
  if (typeof callback !== 'function') throw new InvalidOptionsError('callback', `must be a function (info) => void, got ${describe(callback)}`);
  // Per slot: the stall reported last (thread and heartbeat), so each stall fires once.
  const reported = new Map<number, { threadId: number; heartbeat: number }>();
  const poll = (): void => {
    const table = find();
    if (table === undefined) return;
    const now = monotonicClock();
    for (let s = 0; s < table.slots; s++) {
      const f = table.read(s);
      if (f === undefined || !table.alive(s, f)) {
        reported.delete(s);
        continue;
      }
      const info = threadInfo(s, f, true, now);
      if (info.heartbeatAgeMs - info.intervalMs < stallMs) continue;
      // The heartbeat names the stall: it does not move while the thread is stuck.
      const heartbeat = f.values[F_HEARTBEAT]!;
      const last = reported.get(s);
      if (last !== undefined && last.threadId === f.threadId && last.heartbeat === heartbeat) continue;
      reported.set(s, { threadId: f.threadId, heartbeat });
      try {
        callback(info);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };
  const timer = setInterval(poll, Math.min(250, Math.max(10, Math.floor(stallMs / 4))));
  timer.unref();
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
  };
  return { stop, [Symbol.dispose]: stop };
}
