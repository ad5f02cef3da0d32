/*
 * What `registry.threads()` and a stall watcher report of one slot: its current figures
 * (table.ts), with the heartbeat turned into an age on the reader's clock and every
 * figure in the unit its name says.
 */
import {
  F_DELAY_MAX,
  F_DELAY_MEAN,
  F_DELAY_MIN,
  F_DELAY_P50,
  F_DELAY_P90,
  F_DELAY_P99,
  F_DELAY_STDDEV,
  F_ELU,
  F_EXTERNAL,
  F_HEAP_LIMIT,
  F_HEAP_TOTAL,
  F_HEAP_USED,
  F_HEARTBEAT,
  F_LAG,
  F_STARTED,
} from './layout.js';
import type { SlotFigures, ThreadTable } from './table.js';

/** One monitored thread, as its slot of the thread table shows it now. */
export interface ThreadInfo {
  /** Its slot in the thread table: the value of the `thread` label of its exported series. */
  readonly slot: number;
  readonly threadId: number;
  /** The name its monitor was given. */
  readonly name: string;
  /**
   * True while the thread is monitored and holds the slot; false once its monitor stopped
   * or the thread ended (its figures are then its last ones, until another thread takes
   * the slot). A thread that is alive but stuck stays `alive`: its heartbeat ages.
   */
  readonly alive: boolean;
  /** How often it publishes, ms. */
  readonly intervalMs: number;
  /** Time since its last heartbeat, ms (on the process's monotonic clock). Up to `intervalMs` while its event loop runs. */
  readonly heartbeatAgeMs: number;
  /** Time since its monitor started, ms. */
  readonly monitoredForMs: number;
  /** Share of the last interval its event loop spent running callbacks, 0 to 1. */
  readonly eventLoopUtilization: number;
  /** How late its last heartbeat ran, ms. */
  readonly eventLoopLagMs: number;
  /** How often Node samples its event-loop delay, ms. */
  readonly eventLoopDelayResolutionMs: number;
  /** Event-loop delay over its last interval, ms: each sample is the whole wait, so an idle loop reads about the resolution. */
  readonly eventLoopDelayMinMs: number;
  readonly eventLoopDelayMaxMs: number;
  readonly eventLoopDelayMeanMs: number;
  readonly eventLoopDelayStddevMs: number;
  readonly eventLoopDelayP50Ms: number;
  readonly eventLoopDelayP90Ms: number;
  readonly eventLoopDelayP99Ms: number;
  /** Its V8 heap: used, total (allocated), its limit, and external memory, bytes. */
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly heapLimitBytes: number;
  readonly externalMemoryBytes: number;
  /** Resources keeping its event loop alive (timers, sockets, ports...). */
  readonly activeResources: number;
}

const ms = (seconds: number): number => seconds * 1000;

export function threadInfo(slot: number, f: SlotFigures, alive: boolean, now: number): ThreadInfo {
  const v = f.values;
  return {
    slot,
    threadId: f.threadId,
    name: f.name,
    alive,
    intervalMs: f.intervalMs,
    heartbeatAgeMs: Math.max(0, now - v[F_HEARTBEAT]!),
    monitoredForMs: Math.max(0, now - v[F_STARTED]!),
    eventLoopUtilization: v[F_ELU]!,
    eventLoopLagMs: ms(v[F_LAG]!),
    eventLoopDelayResolutionMs: f.delayResolutionMs,
    eventLoopDelayMinMs: ms(v[F_DELAY_MIN]!),
    eventLoopDelayMaxMs: ms(v[F_DELAY_MAX]!),
    eventLoopDelayMeanMs: ms(v[F_DELAY_MEAN]!),
    eventLoopDelayStddevMs: ms(v[F_DELAY_STDDEV]!),
    eventLoopDelayP50Ms: ms(v[F_DELAY_P50]!),
    eventLoopDelayP90Ms: ms(v[F_DELAY_P90]!),
    eventLoopDelayP99Ms: ms(v[F_DELAY_P99]!),
    heapUsedBytes: v[F_HEAP_USED]!,
    heapTotalBytes: v[F_HEAP_TOTAL]!,
    heapLimitBytes: v[F_HEAP_LIMIT]!,
    externalMemoryBytes: v[F_EXTERNAL]!,
    activeResources: f.activeResources,
  };
}

/** Every slot that holds a thread's figures, in slot order, read at `now`. */
export function listThreads(table: ThreadTable, now: number): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (let s = 0; s < table.slots; s++) {
    const f = table.read(s);
    if (f !== undefined) out.push(threadInfo(s, f, table.alive(s, f), now));
  }
  return out;
}
