/*
 * The bulkhead's shared state and its protocol: at most `maxConcurrent` calls hold a
 * permit at any instant, across every thread of the registry, and calls that find every
 * permit held wait in one FIFO queue shared by all threads.
 *
 * Layout of a bulkhead record (byte offsets from its control block, all i32 words):
 *
 *   +0     control block, 128 bytes: +0 the number of waiters (places taken in the queue),
 *          +4 the next ticket (modulo 2^30)
 *   +128   permits: maxConcurrent words (rounded up to 128 bytes)
 *   ...    notices: two words per permit, (holding, time), for the lease (below)
 *   ...    queue slots: maxQueued + maxConcurrent words (none without a queue)
 *   ...    the counters (a striped counter set, kind.ts)
 *
 * A fresh record is all zero: every permit free, nobody waiting, ticket 0, so a record is
 * usable the moment the directory publishes it.
 *
 * Permits. A permit is one word: bit 0 HELD, bit 1 CONTENDED, bits 2..31 a generation that
 * grows by one each time the permit is taken. Taking is one compare-and-swap of a free word
 * into a held word with the next generation; releasing is one compare-and-swap of the held
 * word back to free. So a permit is held by exactly one holding at a time (maxConcurrent
 * can never be exceeded: there are only that many words), and the holding is named by its
 * word: a release that brings a word which is no longer there (the permit was taken back
 * from it, below) finds its compare-and-swap failing and changes nothing. A generation
 * comes back after 2^30 holdings of the same permit; a release arriving that many holdings
 * late could be taken for the current one.
 *
 * The queue. A waiter takes a place (the waiter count, compare-and-swapped below
 * maxQueued: a full queue refuses at once), a ticket (an atomic add), and a free slot,
 * into which it writes WAITING | ticket; then it waits on its slot with Atomics.waitAsync.
 * Every thread's waiters are in the same slots, so whoever frees a permit hands it to the
 * waiter with the oldest ticket, whatever its thread: it takes the free permit itself, then
 * compare-and-swaps that waiter's slot from WAITING | ticket to GRANTED | the permit (its
 * index and the low bits of its generation), and notifies the slot, which wakes that one
 * waiter. A waiter that gives up (its caller aborted, its queue timeout passed)
 * compare-and-swaps its slot back to free and gives its place back at once: nothing
 * waits behind a cancelled ticket, because the oldest ticket is found by looking at the
 * tickets that are there, not by counting through them. If the grant and the cancel race,
 * one compare-and-swap wins: a waiter that was granted a permit as it gave up gives the
 * permit back (or, on a timeout, takes it: it got it in time). Finding the oldest ticket
 * reads every slot (plain reads: a stale one only costs a compare-and-swap that fails);
 * tickets are compared by their distance below the next ticket, so the order holds while
 * no waiter waits through 2^29 later tickets.
 *
 * No barging: the fast path (take a free permit) is taken only while nobody waits, so a
 * permit freed while calls wait goes to the oldest of them, not to whichever thread asks
 * next. That test reads the waiter count without ordering (a call racing with a waiter's
 * arrival may go first, as it may when the two are concurrent anyway).
 *
 * No lost wake-up. A waiter must not wait for a release that has already happened, and a
 * release must not free a permit without handing it on when someone waits. The CONTENDED
 * bit carries that: a release whose compare-and-swap finds the bit set frees the permit
 * and then hands out free permits (dispatch). Whoever finds waiters but no free permit
 * sets the bit on every held permit, and the waiter itself runs a dispatch right after
 * taking its slot. Each permit's word is changed only by compare-and-swap, so a release
 * and the setting of the bit on the same word are ordered: either the bit is seen by the
 * release (which then dispatches), or the permit is seen free by the dispatch (which then
 * hands it on). A permit handed to a waiter is held, unmarked, until the dispatcher's next
 * turn of its loop marks it, if someone still waits (or finds it already freed and hands
 * it on); a permit taken on the fast path by a call that had not yet seen the new waiter
 * is marked by the dispatch that finds no free permit. While anyone waits, every held
 * permit is marked or about to be, so its release dispatches.
 *
 * The lease. A thread terminated while it holds a permit never releases it, and nothing in
 * JavaScript tells another thread. So a permit carries a lease, measured from when it is
 * first seen held by a thread that needs it: a call that finds the bulkhead full (and every
 * waiter when it wakes) reads the clock and notes, for each held permit, the holding (its
 * word) and the time it first saw that holding; a holding that is still there leaseMs later
 * is taken back (one compare-and-swap from that word to free, counted in `reclaimed`) and
 * handed to the oldest waiter. The time is not stamped when a permit is taken because that
 * would put a clock read (tens of ns) on every acquisition; the cost is that a terminated
 * holder's permit comes back one lease after the first call that needed it, not one lease
 * after it was taken. Notes are two words written time first, holding second (a reader
 * matches the holding, then reads a time at least as new), and two threads noting the same
 * holding at once write times a moment apart: either is a fair start. A holder that was
 * only slow, not dead, is treated the same way: after a lease its permit is handed to
 * another call while it still runs (maxConcurrent + 1 calls run until it finishes), and its
 * release, finding its word gone, changes nothing (counted in `late_releases`). Set
 * leaseMs above the longest call. Waiters wake when the earliest noted lease can end, so
 * a queue whose permits were all held by a terminated thread moves again by itself.
 *
 * A waiter whose thread is terminated keeps its place until its turn comes; the permit it
 * is then handed comes back after a lease, and its slot, whose grant no longer names a
 * held permit, is freed by the next waiter that looks for a slot.
 *
 * Memory ordering: every decision is a sequentially consistent compare-and-swap, add or
 * load on one word (JS Atomics). Plain reads only choose candidates (a free permit, the
 * oldest ticket) that a compare-and-swap then confirms, or decide fairness (above).
 */
import type { Counter } from '../sets/counter-set.js';

export const HELD = 1;
export const CONTENDED = 2;
const GEN_ONE = 4;
/** Permit word without its two flag bits: the free word of the same generation. */
const FREE_MASK = -4;

/** A queue slot: 0 free; WAITING | ticket; GRANTED | generation bits | permit index. */
export const WAITING = 0x40000000;
export const TICKET_MASK = 0x3fffffff;
const SLOT_STATE = 0xc0000000 | 0;
export const GRANTED = 0x80000000 | 0;
const GRANT_INDEX = 0x3fff;
const GRANT_GEN_SHIFT = 14;
const GRANT_GEN = 0x1ffff;

/** The most permits a bulkhead can have: a grant names its permit in 14 bits. */
export const MAX_CONCURRENT = 10_000;
export const MAX_QUEUED = 10_000;

/** Times in the notices: ms of the bulkhead's clock, modulo 2^30 (the breaker's ticks). */
export const TICK_MASK = 0x3fffffff;
/** An elapsed time within this many ms below 2^30 is a clock read just behind the noter's. */
const SKEW = 1024;

/** release(): what became of the permit. */
export const RELEASED = 0;
export const LATE = -1;

/** The counters the protocol itself moves (the rest are counted by the caller). */
export interface CoreCounters {
  readonly admitted: Counter;
  readonly reclaimed: Counter;
}

/** Byte offsets of a bulkhead record's parts, from its control block. */
export interface BulkheadGeometry {
  readonly permits: number;
  readonly notices: number;
  readonly slots: number;
  readonly slotCount: number;
  /** Bytes from the control block to the counters. */
  readonly countersOffset: number;
}

const align128 = (n: number): number => (n + 127) & ~127;

export function bulkheadGeometry(maxConcurrent: number, maxQueued: number): BulkheadGeometry {
  const permits = 128;
  const notices = permits + align128(4 * maxConcurrent);
  const slots = notices + align128(8 * maxConcurrent);
  // Waiting slots, plus one per permit for a grant not yet taken up by its (woken) waiter.
  const slotCount = maxQueued === 0 ? 0 : maxQueued + maxConcurrent;
  return { permits, notices, slots, slotCount, countersOffset: slots + align128(4 * slotCount) };
}

/**
 * One thread's view of one bulkhead record: the protocol above, as methods on the record's
 * words. Per registry object and bulkhead; holds no state of a call. `word` is an out
 * parameter: the word of the permit the last take/consume returned (so a take allocates
 * nothing).
 */
export class BulkheadCore {
  /** The word of the permit the last successful take() or consume() returned. */
  word = 0;
  /** The slot word of the last successful enqueue(). */
  ticketWord = 0;
  private headWord = 0;
  private readonly i32: Int32Array;
  private readonly waiters: number;
  private readonly ticket: number;
  private readonly p: number;
  private readonly m: number;
  private readonly n: number;
  private readonly q: number;
  private readonly s: number;
  private readonly maxQueued: number;
  private readonly leaseMs: number;
  private readonly counters: CoreCounters;

  constructor(i32: Int32Array, ctl: number, g: BulkheadGeometry, maxConcurrent: number, maxQueued: number, leaseMs: number, counters: CoreCounters) {
    this.i32 = i32;
    this.waiters = ctl >>> 2;
    this.ticket = (ctl >>> 2) + 1;
    this.p = (ctl + g.permits) >>> 2;
    this.m = maxConcurrent;
    this.n = (ctl + g.notices) >>> 2;
    this.q = (ctl + g.slots) >>> 2;
    this.s = g.slotCount;
    this.maxQueued = maxQueued;
    this.leaseMs = leaseMs;
    this.counters = counters;
  }

  /**
   * The fast path: takes a free permit, scanning from `hint`, unless calls are waiting.
   * Returns its index (its word in `word`), or -1.
   */
  take(hint: number): number {
    const i32 = this.i32;
    // Plain read: fairness only (see the header, "No barging").
    if (i32[this.waiters] !== 0) return -1;
    const p = this.p;
    const m = this.m;
    let i = hint;
    for (let k = 0; k < m; k++) {
      const w = i32[p + i]!;
      if ((w & HELD) === 0) {
        const taken = ((w & FREE_MASK) + GEN_ONE) | HELD;
        if (Atomics.compareExchange(i32, p + i, w, taken) === w) {
          this.word = taken;
          return i;
        }
      }
      if (++i === m) i = 0;
    }
    return -1;
  }

  /** Releases the holding `word` of permit `i`: RELEASED, or LATE when it was taken back. */
  release(i: number, word: number): number {
    const at = this.p + i;
    const free = word & FREE_MASK;
    let cur = Atomics.compareExchange(this.i32, at, word, free);
    if (cur === word) return RELEASED;
    for (;;) {
      // Anything but this holding, marked, means it was taken back (and maybe taken again).
      if ((cur & ~CONTENDED) !== word) return LATE;
      const seen = Atomics.compareExchange(this.i32, at, cur, free);
      if (seen === cur) {
        this.dispatch();
        return RELEASED;
      }
      cur = seen;
    }
  }

  /** Calls holding a permit now. */
  active(): number {
    let n = 0;
    for (let i = 0; i < this.m; i++) if ((Atomics.load(this.i32, this.p + i) & HELD) !== 0) n++;
    return n;
  }

  /** Places taken in the queue now. */
  queued(): number {
    const v = Atomics.load(this.i32, this.waiters);
    // Memory another thread wrote over must not make a snapshot negative or absurd.
    return v < 0 ? 0 : Math.min(v, this.maxQueued);
  }

  /**
   * Takes a place in the queue and a slot: returns the slot (its word in `ticketWord`),
   * or -1 when the queue is full. The caller then dispatches (the waiter's half of "no
   * lost wake-up") and waits on the slot.
   */
  enqueue(): number {
    const i32 = this.i32;
    for (;;) {
      const c = Atomics.load(i32, this.waiters);
      if (c >= this.maxQueued || c < 0) return -1;
      if (Atomics.compareExchange(i32, this.waiters, c, c + 1) === c) break;
    }
    const word = WAITING | (Atomics.add(i32, this.ticket, 1) & TICKET_MASK);
    for (let k = 0; k < this.s; k++) {
      const at = this.q + k;
      let v = Atomics.load(i32, at);
      if ((v & SLOT_STATE) === GRANTED && this.staleGrant(v)) {
        if (Atomics.compareExchange(i32, at, v, 0) !== v) continue;
        v = 0;
      }
      if (v === 0 && Atomics.compareExchange(i32, at, 0, word) === 0) {
        this.ticketWord = word;
        return k;
      }
    }
    // Every slot taken: only slots that some thread wrote over can do that (there are
    // maxQueued + maxConcurrent slots for at most maxQueued waiters and maxConcurrent grants).
    Atomics.sub(i32, this.waiters, 1);
    return -1;
  }

  /** A grant whose permit is no longer held by it: its waiter's thread is gone (or took a lease to wake). */
  private staleGrant(v: number): boolean {
    const i = v & GRANT_INDEX;
    if (i >= this.m) return true;
    const w = Atomics.load(this.i32, this.p + i);
    return (w & HELD) === 0 || ((w >>> 2) & GRANT_GEN) !== ((v >>> GRANT_GEN_SHIFT) & GRANT_GEN);
  }

  /** The slot's word now. */
  slot(k: number): number {
    return Atomics.load(this.i32, this.q + k);
  }

  /** The index of the slot's word in the memory (to wait on). */
  slotIndex(k: number): number {
    return this.q + k;
  }

  /** Gives up a waiting slot: true if it was still waiting (its place is free now). */
  cancel(k: number, ticketWord: number): boolean {
    const at = this.q + k;
    if (Atomics.compareExchange(this.i32, at, ticketWord, 0) !== ticketWord) return false;
    Atomics.sub(this.i32, this.waiters, 1);
    // Wakes this waiter's own pending wait, so that it ends now.
    Atomics.notify(this.i32, at);
    return true;
  }

  /**
   * Takes up the grant in slot `k` and frees the slot: the permit's index (its word in
   * `word`), or -1 when the slot holds no grant that is still good (its permit was taken
   * back while the waiter did not wake).
   */
  consume(k: number): number {
    const at = this.q + k;
    const v = Atomics.load(this.i32, at);
    if ((v & SLOT_STATE) !== GRANTED) return -1;
    const stale = this.staleGrant(v);
    const i = v & GRANT_INDEX;
    const w = stale ? 0 : Atomics.load(this.i32, this.p + i);
    if (Atomics.compareExchange(this.i32, at, v, 0) !== v || stale) return -1;
    this.word = w & ~CONTENDED;
    return i;
  }

  /**
   * Hands free permits to the oldest waiters, while there are both. When waiters remain
   * and no permit is free, marks every held permit CONTENDED so that its release comes
   * back here.
   */
  dispatch(): void {
    const i32 = this.i32;
    for (;;) {
      if (Atomics.load(i32, this.waiters) <= 0) return;
      const head = this.head();
      // A waiter that has its place but no slot yet dispatches itself once it has one.
      if (head < 0) return;
      const hw = this.headWord;
      const i = this.takeAny();
      if (i < 0) {
        if (this.markHeld()) continue;
        return;
      }
      const taken = this.word;
      const grant = GRANTED | (((taken >>> 2) & GRANT_GEN) << GRANT_GEN_SHIFT) | i;
      if (Atomics.compareExchange(i32, this.q + head, hw, grant) === hw) {
        Atomics.sub(i32, this.waiters, 1);
        Atomics.notify(i32, this.q + head);
        this.counters.admitted.inc();
        continue;
      }
      // The head left (cancelled, or another dispatcher served it): the permit goes back,
      // and the loop looks again (a mark set on it meanwhile is cleared with it).
      for (;;) {
        const cur = Atomics.compareExchange(i32, this.p + i, taken, taken & FREE_MASK);
        if (cur === taken) break;
        if ((cur & ~CONTENDED) !== taken || Atomics.compareExchange(i32, this.p + i, cur, taken & FREE_MASK) === cur) break;
      }
    }
  }

  /** The slot of the oldest waiting ticket (its word in headWord), or -1. */
  private head(): number {
    const i32 = this.i32;
    const next = Atomics.load(i32, this.ticket);
    let best = -1;
    let bestAge = -1;
    for (let k = 0; k < this.s; k++) {
      const v = i32[this.q + k]!;
      if ((v & SLOT_STATE) !== WAITING) continue;
      // Distance below the next ticket, modulo 2^30, sign-extended: a ticket taken after
      // `next` was read comes out negative (its waiter dispatches by itself).
      const age = ((next - v) << 2) >> 2;
      if (age > bestAge) {
        bestAge = age;
        best = k;
        this.headWord = v;
      }
    }
    return best;
  }

  /** Takes any free permit, waiters or not (a dispatch's take). */
  private takeAny(): number {
    const i32 = this.i32;
    for (let i = 0; i < this.m; i++) {
      const w = i32[this.p + i]!;
      if ((w & HELD) !== 0) continue;
      const taken = ((w & FREE_MASK) + GEN_ONE) | HELD;
      if (Atomics.compareExchange(i32, this.p + i, w, taken) === w) {
        this.word = taken;
        return i;
      }
    }
    return -1;
  }

  /** Marks every held permit CONTENDED; true when it met a free permit instead (dispatch again). */
  private markHeld(): boolean {
    const i32 = this.i32;
    for (let i = 0; i < this.m; i++) {
      const at = this.p + i;
      for (;;) {
        const w = Atomics.load(i32, at);
        if ((w & HELD) === 0) return true;
        if ((w & CONTENDED) !== 0 || Atomics.compareExchange(i32, at, w, w | CONTENDED) === w) break;
      }
    }
    return false;
  }

  /**
   * The lease (see the header): notes each held permit's holding, takes back the ones
   * noted at least leaseMs ago and hands them on. `now` is the bulkhead's clock in whole
   * ms. Returns how many ms until the next noted lease can end (Infinity: none held).
   */
  sweep(now: number): number {
    const i32 = this.i32;
    const t = now & TICK_MASK;
    const lease = this.leaseMs;
    let next = Infinity;
    let freed = false;
    for (let i = 0; i < this.m; i++) {
      for (;;) {
        const w = Atomics.load(i32, this.p + i);
        if ((w & HELD) === 0) break;
        const id = w | CONTENDED;
        const note = this.n + 2 * i;
        if (Atomics.load(i32, note) !== id) {
          Atomics.store(i32, note + 1, t);
          Atomics.store(i32, note, id);
          next = Math.min(next, lease);
          break;
        }
        const elapsed = (t - Atomics.load(i32, note + 1)) & TICK_MASK;
        if (elapsed > TICK_MASK - SKEW) {
          next = Math.min(next, lease);
          break;
        }
        if (elapsed < lease) {
          next = Math.min(next, lease - elapsed);
          break;
        }
        // Expired: take it back from exactly the holding noted (a release or a mark in
        // between fails the compare-and-swap, and the word is read again).
        if (Atomics.compareExchange(i32, this.p + i, w, w & FREE_MASK) === w) {
          this.counters.reclaimed.inc();
          freed = true;
          break;
        }
      }
    }
    if (freed) this.dispatch();
    return next;
  }
}
