/*
 * The bytes of a thread table (table.ts has the why of every part): one slot per owned
 * stripe of the registry, each SLOT_BYTES long and 128-byte aligned, so that two threads'
 * slots never share a cache-line pair.
 *
 * A slot, in i32 words from its start:
 *   0        the publication count n (u32): how many figure sets were published into the
 *            slot, by every thread that ever held it; the current set is copy n & 1
 *   2        copy 0, COPY_WORDS words
 *   2 + 56   copy 1
 * A copy, in i32 words:
 *   0  state (STATE_RUNNING, STATE_STOPPED)   1  threadId   2  interval in ms
 *   3  name length in UTF-8 bytes (<= MAX_THREAD_NAME_BYTES)   4..19  the name's bytes
 *   20 active resources   21 the event-loop delay's sampling period in ms
 *   22 F64_COUNT f64 figures, each as two i32 words (low, high) in F_* order
 * Then, from byte CUMULATIVE_BYTE, u64 cells that only grow, for the slot's whole life
 * whichever thread holds it:
 *   the event-loop delay histogram: one cell per bucket of DELAY_BOUNDS and +Inf (not
 *   cumulative: a sample adds to one cell), then the sum in seconds as an f64's bits;
 *   the GC pause histogram, per kind of GC_KINDS: one cell per bucket of GC_BOUNDS and
 *   +Inf, then the sum in seconds as an f64's bits.
 */
import { BLOCK, alignUp } from '../layout.js';

/** The layout's version, carried by every table's descriptor: another one is skipped, never guessed at. */
export const TABLE_LAYOUT = 1;

/** The directory name of a registry's thread table. */
export const TABLE_NAME = 'atomic-stats:threads';

/**
 * Bounds of the event-loop delay histogram, in seconds. Node samples the delay every
 * `delayResolutionMs` (20 by default, 10 in prom-client) and reports the whole wait, so
 * an idle loop reads about that much: the finest bounds sit around those two, where the
 * lag a busy loop adds shows first.
 */
export const DELAY_BOUNDS: readonly number[] = Object.freeze([0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
/** Bounds of the GC pause histogram, in seconds: prom-client's for `nodejs_gc_duration_seconds`. */
export const GC_BOUNDS: readonly number[] = Object.freeze([0.001, 0.01, 0.1, 1, 2, 5]);
/** The kinds of GC pause, as prom-client labels them; index = the cells' order. */
export const GC_KINDS: readonly string[] = Object.freeze(['minor', 'major', 'incremental', 'weakcb']);

/** Longest thread name kept, in UTF-8 bytes (a longer one is refused by monitorThread). */
export const MAX_THREAD_NAME_BYTES = 64;

export const STATE_RUNNING = 1;
export const STATE_STOPPED = 2;

export const W_SEQ = 0;
export const W_COPY0 = 2;
export const COPY_WORDS = 56;

export const C_STATE = 0;
export const C_THREAD_ID = 1;
export const C_INTERVAL = 2;
export const C_NAME_LEN = 3;
export const C_NAME = 4;
export const C_ACTIVE = 20;
export const C_RESOLUTION = 21;
export const C_F64 = 22;

/** The f64 figures of a copy, by index. */
export const F_HEARTBEAT = 0; // the shared monotonic clock, ms (clock.ts)
export const F_STARTED = 1; // when the monitor started, same clock
export const F_HEAP_USED = 2;
export const F_HEAP_TOTAL = 3;
export const F_EXTERNAL = 4;
export const F_HEAP_LIMIT = 5;
export const F_ELU = 6; // 0..1 over the last interval
export const F_LAG = 7; // how late the last heartbeat ran, s
export const F_DELAY_MIN = 8; // event-loop delay over the last interval, s: min, max, mean, stddev, p50, p90, p99
export const F_DELAY_MAX = 9;
export const F_DELAY_MEAN = 10;
export const F_DELAY_STDDEV = 11;
export const F_DELAY_P50 = 12;
export const F_DELAY_P90 = 13;
export const F_DELAY_P99 = 14;
export const F64_COUNT = 15;

/** Byte offset of the u64 cells in a slot (after the two copies, 8-aligned and on a block). */
export const CUMULATIVE_BYTE = alignUp((W_COPY0 + 2 * COPY_WORDS) * 4, BLOCK);
/** Cells of the delay histogram: its buckets, then its sum. */
export const DELAY_CELLS = DELAY_BOUNDS.length + 2;
/** Cells of one kind's GC histogram: its buckets, then its sum. */
export const GC_CELLS = GC_BOUNDS.length + 2;
/** Cell index (u64, from CUMULATIVE_BYTE) of kind `k`'s first GC cell. */
export const gcCell = (k: number): number => DELAY_CELLS + k * GC_CELLS;
export const CUMULATIVE_CELLS = DELAY_CELLS + GC_KINDS.length * GC_CELLS;

export const SLOT_BYTES = alignUp(CUMULATIVE_BYTE + CUMULATIVE_CELLS * 8, BLOCK);

/** The data bytes of a table of `slots` slots. */
export const tableBytes = (slots: number): number => slots * SLOT_BYTES;

/** The index of the bucket of `bounds` (or bounds.length, +Inf) that holds `v`. */
export function bucketOf(bounds: readonly number[], v: number): number {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  return i;
}
