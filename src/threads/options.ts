/*
 * The options of monitorThread and watchThreads, checked before anything starts: a bad
 * one is an InvalidOptionsError naming it, and nothing is started or written.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { utf8 } from '../directory.js';
import { InvalidOptionsError, describe } from '../errors.js';
import { checkOptionsObject, intIn } from '../validate.js';
import { MAX_THREAD_NAME_BYTES } from './layout.js';

export interface ThreadMonitorOptions {
  /**
   * The thread's name, as `threads()` and the `name` label of `atomic_stats_thread_info`
   * show it: a non-empty string of at most 64 UTF-8 bytes. Several threads may share a
   * name (a pool's threads, say). Default `'main'` in the main thread, `'thread-<threadId>'`
   * in a worker.
   */
  readonly name?: string;
  /**
   * How often the thread publishes its figures, in ms, 10 to 3,600,000. Default 1000.
   * The heartbeat is that old at most while the thread's event loop runs.
   */
  readonly intervalMs?: number;
  /**
   * How often Node samples the thread's event-loop delay, in ms, 1 to 1000. Default 20.
   * Each sample is the whole wait, so an idle loop reads about this much. A shorter
   * period sees shorter blocks and costs more: the sampler's timer wakes the thread every
   * period (10, prom-client's period, costs about half as much again: docs/thread-health.md).
   */
  readonly delayResolutionMs?: number;
}

export interface ThreadWatchOptions {
  /**
   * How far past its due time a thread's heartbeat may be before the thread counts as
   * stalled, in ms, 1 to 86,400,000. Default 2000. A thread is due to publish every
   * `intervalMs` (its own), so it counts as stalled once its heartbeat is
   * `intervalMs + stallMs` old: an event loop that has run nothing for at least `stallMs`.
   */
  readonly stallMs?: number;
}

export const DEFAULT_INTERVAL_MS = 1000;
export const MIN_INTERVAL_MS = 10;
export const MAX_INTERVAL_MS = 3_600_000;
export const DEFAULT_STALL_MS = 2000;
export const DEFAULT_DELAY_RESOLUTION_MS = 20;

export interface MonitorConfig {
  readonly name: string;
  readonly nameBytes: Uint8Array;
  readonly intervalMs: number;
  readonly delayResolutionMs: number;
}

export function checkMonitorOptions(options: unknown): MonitorConfig {
  const o = checkOptionsObject(options, ['name', 'intervalMs', 'delayResolutionMs'], 'options');
  const name = o.name === undefined ? (isMainThread ? 'main' : `thread-${threadId}`) : o.name;
  if (typeof name !== 'string' || name.length === 0 || !(name as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidOptionsError('name', `must be a non-empty, well-formed string, got ${describe(name)}`);
  }
  const nameBytes = utf8(name);
  if (nameBytes.length > MAX_THREAD_NAME_BYTES) throw new InvalidOptionsError('name', `must be at most ${MAX_THREAD_NAME_BYTES} UTF-8 bytes, got ${nameBytes.length}`);
  const intervalMs = intIn(o, 'intervalMs', DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
  const delayResolutionMs = intIn(o, 'delayResolutionMs', DEFAULT_DELAY_RESOLUTION_MS, 1, 1000);
  return { name, nameBytes, intervalMs, delayResolutionMs };
}

export function checkWatchOptions(options: unknown): { stallMs: number } {
  const o = checkOptionsObject(options, ['stallMs'], 'options');
  return { stallMs: intIn(o, 'stallMs', DEFAULT_STALL_MS, 1, 86_400_000) };
}
