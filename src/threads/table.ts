/*
 * The thread table: every monitored thread's health, in the registry's shared memory, so
 * that any thread reads any other's without asking it anything.
 *
 * Why shared memory. A thread's heap, event-loop delay and utilisation are only known
 * inside that thread (prom-client's default metrics see the isolate that scrapes), and
 * a client that gathers them by message at scrape time gets no answer from the one
 * thread that matters most: the one whose event loop is stuck. So each monitored thread
 * writes its own figures, on a timer of its own, into a slot of this table, and a reader
 * (a scrape in the serveMetrics thread, `registry.threads()`, a stall watcher) reads the
 * slots in place. A thread that has stopped answering still has its last figures here,
 * and the time of its last heartbeat says how long ago it stopped.
 *
 * Slots. The table has one slot per owned stripe of the registry, and slot i belongs to
 * whichever registry object holds stripe i (src/slots.ts): a thread monitors itself
 * through a registry object that holds a stripe, into that stripe's slot. This reuses
 * everything slots.ts already guarantees instead of a second claim protocol with its own
 * failure cases:
 *   - the slots are bounded by the stripes, not by how many threads ever ran: a pool that
 *     replaces its threads all day reuses the same slots, and so the same `thread` label
 *     values (export: collect.ts);
 *   - a slot is handed back exactly when the stripe is: on `close()`, on the thread's
 *     normal exit, or when the thread that created a terminated worker sees its 'exit'
 *     (not on Deno, where no event proves a terminated worker stopped: there such a
 *     thread keeps its slot, and reads as stalled, not ended; docs/worker-pools.md);
 *   - a slot has one writer at a time, the stripe's holder, and the release and the next
 *     claim are atomic operations on the same stripe-table entry, which order the old
 *     holder's last writes before the new holder's first, as for the stripes.
 * A registry object without a stripe (every one was held when it attached) has no slot,
 * and its thread cannot be monitored through it (monitor.ts says what happens then).
 *
 * What a slot holds is of two sorts, kept apart because they obey opposite rules.
 *
 * 1. The figures: the latest set of gauges (heartbeat, heap, utilisation, the last
 *    interval's event-loop delay) and who wrote them (threadId, name, interval, state).
 *    A reader must never mix two sets, least of all two threads': heap used from one
 *    thread and heap total from the next would be a figure no thread ever had. So they
 *    are written as a whole and read as a whole, by this protocol:
 *      - the slot holds two copies and a publication count n; copy n & 1 is current;
 *      - the writer fills copy (n + 1) & 1, the one no reader is sent to, then stores
 *        n + 1: the new copy becomes current in one atomic store;
 *      - a reader loads n, reads copy n & 1, and loads n again: equal, and the copy it
 *        read was not being rewritten meanwhile (the writer rewrites copy n & 1 only for
 *        publication n + 2, after storing n + 1); different, and it reads again.
 *    Every word of a copy is stored and loaded with a sequentially consistent Atomics
 *    operation, and that is not a nicety. The JS and Wasm memory models order nothing
 *    about plain stores as another thread sees them: a reader's plain load could observe
 *    a value the writer stored for publication n + 2 and still load n afterwards, and take
 *    a torn set for a whole one (the same reason the stripes' protocol avoids a seqlock:
 *    docs/how-it-works.md). With every access seq-cst, a load that sees any word of a
 *    later publication comes after the store of n + 1 in the one total order, so the
 *    second load of the count sees it too. An f64 is two i32 words, each atomic; the
 *    protocol, not the width, is what keeps the pair together.
 *    Why two copies rather than one guarded by an odd count: a writer can be terminated
 *    in the middle of a publication. With one copy, it would leave the count odd for
 *    ever, and every reader would either spin or give up on the slot; with two, the
 *    current copy is always a complete one, and an unfinished publication is simply never
 *    made current. Readers never wait for a writer, live or dead. They retry only while
 *    the count moves, which a writer does once per interval (10 ms at the least), so a
 *    read nearly always succeeds first time; after READ_TRIES moves it gives up on the
 *    slot for this read (a scrape then omits that slot's gauges once).
 *
 * 2. The cumulative cells: the event-loop delay histogram and the GC pause histogram by
 *    kind. They only grow, for the slot's whole life, whoever holds it: a thread that
 *    takes over a slot continues its cells. This is what keeps the totals from going
 *    backwards when a thread ends (its pauses stay counted in the slot's series, which
 *    stays exported), and it keeps each exported series monotonic, so rate() sees no
 *    reset and a Prometheus server sees no new series when a pool replaces a thread. The
 *    price is that a histogram series' `thread` label names a slot, not one thread: the
 *    info family (`atomic_stats_thread_info{thread, thread_id, name}`) says which thread
 *    holds a slot now. The alternative, folding an ended thread's cells into a table-wide
 *    "ended" series, needs the fold and the reader to agree on a moment when the counts
 *    are in exactly one of the two places, which is a lock or a second protocol; keeping
 *    them in place needs neither.
 *    Like a shared histogram's (kinds/histogram.ts), the bucket cells are not cumulative
 *    (a sample adds to one cell) and the count is their sum, so buckets and count always
 *    agree; the writer adds to the buckets before the sum and a reader loads the sum
 *    before the buckets, so the sum never includes a sample the count lacks. Each cell
 *    is a u64 with one writer, updated by an atomic add, so a writer terminated between
 *    two adds leaves every cell at a value it had.
 *
 * Alive, ended, stalled. A slot's figures belong to a live thread when their state is
 * running and the stripe's holder is the thread that wrote them. A thread's monitor writes
 * a stopped copy when it stops, and always before its stripe goes back (the registry stops
 * every monitor before it releases: registry-core.ts releaseStripe), so even the same
 * thread claiming the slot again is not mistaken for the old monitor. A terminated thread
 * cannot write that copy, but its stripe is then released by its creator, and threadIds
 * are never reused within a process, so a later holder never matches the old figures. A
 * thread that is alive but stops publishing is stalled: its figures stay, and the age of
 * its heartbeat grows (watch.ts).
 *
 * Nothing read is trusted without a bound: the name's length is clamped to its field and
 * decoded leniently, the state must be one of the two, and every index comes from this
 * thread's own copy of the slot count, never from shared memory.
 */
import type { SlotTable } from '../slots.js';
import { slotHolder } from '../slots.js';
import {
  COPY_WORDS,
  CUMULATIVE_BYTE,
  C_ACTIVE,
  C_F64,
  C_INTERVAL,
  C_NAME,
  C_NAME_LEN,
  C_RESOLUTION,
  C_STATE,
  C_THREAD_ID,
  F64_COUNT,
  MAX_THREAD_NAME_BYTES,
  SLOT_BYTES,
  STATE_RUNNING,
  STATE_STOPPED,
  W_COPY0,
  W_SEQ,
} from './layout.js';

/** How many moves of a slot's publication count a read waits out before giving up on it. */
const READ_TRIES = 8;

/** One published set of a slot's figures. */
export interface SlotFigures {
  readonly state: number;
  readonly threadId: number;
  readonly intervalMs: number;
  readonly name: string;
  readonly activeResources: number;
  readonly delayResolutionMs: number;
  /** The f64 figures, by F_* index. */
  readonly values: Float64Array;
}

/** What a writer publishes (its own buffers, reused every interval). */
export interface Publication {
  state: number;
  threadId: number;
  intervalMs: number;
  /** The name's UTF-8 bytes, at most MAX_THREAD_NAME_BYTES. */
  name: Uint8Array;
  activeResources: number;
  delayResolutionMs: number;
  readonly values: Float64Array;
}

const decoder = new TextDecoder();

// An f64 crosses as two i32 words (see the header); these views do the conversion.
const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);
const f64Bits = new BigInt64Array(f64.buffer);

/** A view of one registry's thread table, in one thread. */
export class ThreadTable {
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly u64: BigUint64Array;

  /**
   * @param buffer the registry's shared memory
   * @param dataOffset the table record's data (SLOT_BYTES × slots, 128-aligned)
   * @param slots this thread's copy of the stripe count
   * @param stripes the registry's stripe-slot table: who holds each slot
   */
  constructor(
    buffer: ArrayBufferLike,
    private readonly dataOffset: number,
    readonly slots: number,
    private readonly stripes: SlotTable,
  ) {
    this.i32 = new Int32Array(buffer);
    this.i64 = new BigInt64Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }

  private word(slot: number): number {
    return (this.dataOffset + slot * SLOT_BYTES) >>> 2;
  }

  private cellIndex(slot: number, cell: number): number {
    return ((this.dataOffset + slot * SLOT_BYTES + CUMULATIVE_BYTE) >>> 3) + cell;
  }

  /** The thread holding slot `slot`'s stripe now, or -1. */
  holder(slot: number): number {
    return slotHolder(this.stripes, slot);
  }

  /** Publications made into the slot so far (0: none ever). */
  publications(slot: number): number {
    return Atomics.load(this.i32, this.word(slot) + W_SEQ) >>> 0;
  }

  /**
   * Writer side: publishes `p` as the slot's current figures. Only the holder of the
   * slot's stripe calls this (see the header), so the count it loads is its own.
   */
  publish(slot: number, p: Publication): void {
    const base = this.word(slot);
    const n = Atomics.load(this.i32, base + W_SEQ);
    const c = base + W_COPY0 + ((n + 1) & 1) * COPY_WORDS;
    const i32 = this.i32;
    Atomics.store(i32, c + C_STATE, p.state);
    Atomics.store(i32, c + C_THREAD_ID, p.threadId);
    Atomics.store(i32, c + C_INTERVAL, p.intervalMs);
    const len = Math.min(p.name.length, MAX_THREAD_NAME_BYTES);
    Atomics.store(i32, c + C_NAME_LEN, len);
    for (let w = 0; w < MAX_THREAD_NAME_BYTES / 4; w++) {
      const b = w * 4;
      const word = (p.name[b] ?? 0) | ((p.name[b + 1] ?? 0) << 8) | ((p.name[b + 2] ?? 0) << 16) | ((p.name[b + 3] ?? 0) << 24);
      Atomics.store(i32, c + C_NAME + w, word);
    }
    Atomics.store(i32, c + C_ACTIVE, p.activeResources);
    Atomics.store(i32, c + C_RESOLUTION, p.delayResolutionMs);
    for (let k = 0; k < F64_COUNT; k++) {
      f64[0] = p.values[k]!;
      Atomics.store(i32, c + C_F64 + 2 * k, f64Words[0]!);
      Atomics.store(i32, c + C_F64 + 2 * k + 1, f64Words[1]!);
    }
    // The new copy becomes current; a reader that loads n + 1 finds it complete.
    Atomics.store(i32, base + W_SEQ, n + 1);
  }

  /**
   * The slot's current figures, read whole (see the header), or undefined when nothing
   * was ever published into it or the writer kept moving (give up for this read).
   */
  read(slot: number): SlotFigures | undefined {
    const base = this.word(slot);
    const i32 = this.i32;
    for (let tries = 0; tries < READ_TRIES; tries++) {
      const n = Atomics.load(i32, base + W_SEQ);
      if (n === 0) return undefined;
      const c = base + W_COPY0 + (n & 1) * COPY_WORDS;
      const state = Atomics.load(i32, c + C_STATE);
      const threadId = Atomics.load(i32, c + C_THREAD_ID);
      const intervalMs = Atomics.load(i32, c + C_INTERVAL);
      const len = Math.max(0, Math.min(Atomics.load(i32, c + C_NAME_LEN), MAX_THREAD_NAME_BYTES));
      const bytes = new Uint8Array(len);
      for (let b = 0; b < len; b++) bytes[b] = (Atomics.load(i32, c + C_NAME + (b >>> 2)) >>> ((b & 3) * 8)) & 0xff;
      const activeResources = Atomics.load(i32, c + C_ACTIVE);
      const delayResolutionMs = Atomics.load(i32, c + C_RESOLUTION);
      const values = new Float64Array(F64_COUNT);
      for (let k = 0; k < F64_COUNT; k++) {
        f64Words[0] = Atomics.load(i32, c + C_F64 + 2 * k);
        f64Words[1] = Atomics.load(i32, c + C_F64 + 2 * k + 1);
        values[k] = f64[0]!;
      }
      if (Atomics.load(i32, base + W_SEQ) !== n) continue;
      // A state this version does not write: bytes some thread wrote over. Not a thread's figures.
      if ((state !== STATE_RUNNING && state !== STATE_STOPPED) || threadId < 0) return undefined;
      return { state, threadId, intervalMs, name: decoder.decode(bytes), activeResources, delayResolutionMs, values };
    }
    return undefined;
  }

  /** Whether `f`, read from `slot`, are the figures of a thread that is alive and monitored now (see the header). */
  alive(slot: number, f: SlotFigures): boolean {
    return f.state === STATE_RUNNING && this.holder(slot) === f.threadId;
  }

  /** Writer side: adds `delta` to cumulative cell `cell` of the slot. */
  add(slot: number, cell: number, delta: number): void {
    if (delta > 0) Atomics.add(this.u64, this.cellIndex(slot, cell), BigInt(delta));
  }

  /** Writer side: adds `seconds` to the f64 sum in cumulative cell `cell` (one writer: load, add, store). */
  addSum(slot: number, cell: number, seconds: number): void {
    if (!(seconds > 0)) return;
    const i = this.cellIndex(slot, cell);
    f64Bits[0] = Atomics.load(this.i64, i);
    const next = f64[0]! + seconds;
    // Bits some thread wrote over (NaN, negative) restart the sum rather than poison it.
    f64[0] = Number.isFinite(next) && next >= 0 ? next : seconds;
    Atomics.store(this.i64, i, f64Bits[0]!);
  }

  /** Cumulative cell `cell` of the slot. */
  count(slot: number, cell: number): bigint {
    return Atomics.load(this.u64, this.cellIndex(slot, cell));
  }

  /** The f64 sum in cumulative cell `cell` of the slot (0 for bits that are no sum). */
  sum(slot: number, cell: number): number {
    f64Bits[0] = Atomics.load(this.i64, this.cellIndex(slot, cell));
    const v = f64[0]!;
    return Number.isFinite(v) && v >= 0 ? v : 0;
  }
}
