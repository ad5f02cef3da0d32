/*
 * The breaker's failure-rate window: the calls and failures recorded by every thread over
 * the last `windowMs`, kept in the shared memory as a ring of time slices. The JS twin is
 * src/ops/breaker-window.ts; the two must agree bit for bit.
 *
 * Where the bytes are. When the rate policy is on, the record reserves WINDOW_BYTES right
 * before the control block (ctl - WINDOW_BYTES), so the control block keeps its address
 * relative to the counters and the window needs no extra argument. A fresh record is all
 * zero, which is an empty window.
 *
 *   slot i (0..RING-1), 16 bytes at win + 16 i:
 *     +0  calls     u64 = tag:32 | count:32
 *     +8  failures  u64 = tag:32 | count:32
 *
 * Slices. Time is cut into slices of B = 2^b ms, b the largest with windowMs / B >= 16, so
 * the window is K = ceil(windowMs / B) slices (16 <= K <= 32 = RING). Slice number
 * e = floor(t / B) of a tick t (ms modulo 2^30); because B is a power of two, e is the same
 * number modulo 2^(30-b) whichever side of the tick wrap-around t was read on, and every
 * comparison of slice numbers is modular (EMASK). Slice e lives in slot e mod RING. The
 * window at slice c is the slices c-K+1 .. c: it covers between windowMs - B and
 * windowMs + B of the most recent time, an error of at most windowMs / 16.
 *
 * Why a tag in each word. A slot is reused every RING slices, and a reset (zero the counts,
 * set the new slice number) must not lose the adds that other threads make to the new
 * slice meanwhile, nor be left half done by a thread terminated in the middle. So each
 * count carries its slice number in the same 64-bit word, and an add is one CAS that
 * either increments a word of the same slice or replaces a word of an older slice by
 * (this slice, 1): the thread whose CAS succeeds advances the slot, and nobody ever writes
 * the slot twice for one change. A word whose count is 0 was never written (a count is 1
 * as soon as it is written) and is free. A thread whose reading of the clock is so far
 * behind that its slot already holds a later slice drops its add from the window (the
 * call is still in the breaker's totals). A count stops at 2^32 - 1 in one slice.
 *
 * Reading. Slice c - j (j < K) can only be in slot (c - j) mod RING, so the window is the
 * K slots of its slices, each counted only if its word carries that slice's number. The
 * trip decision sums the failure words first, then the call words. Every
 * failure is added after its call, so each failure the reader sees has its call counted
 * in the second pass: the rate it computes is never above the rate at the moment it read
 * the failures, so concurrent recording can make it open a moment late, never on a rate
 * that did not happen.
 *
 * Reset on closing. When the breaker closes (from HalfOpen, or forced), the window starts
 * again: the Closed word carries a floor F = (slice of the closing) + 1 in bits 9..31
 * (stored as F + 1, 0 meaning no floor; F modulo FMASK + 1 = 2^min(30-b, 22)), and slices
 * before F are not counted. Being in the state word, the floor and the closing are one
 * CAS, so no thread ever evaluates the new Closed period against the old window. Calls
 * recorded in the rest of the closing slice are not in the window (at most B ms of them).
 * Only calls recorded while Closed go into the window; probes and late records do not.
 *
 * The floor only matters until the window has moved K slices past it; the first record
 * after that clears it from the word (one CAS per closing), so a floor kept modulo
 * 2^min(30-b, 22) slices cannot come round again and hide a window of a breaker that
 * stays Closed for days.
 *
 * Wrap-around, documented for users: slice numbers are modular (2^(30-b) of them, a cycle
 * of 2^30 ms = 12.4 days), so a slot left untouched for a whole cycle is taken for a
 * current one. That needs a breaker no thread recorded a call on for 12.4 days.
 */

export const WINDOW_BYTES: u32 = 512;
const RING: i32 = 32;
const FLOOR_SHIFT: i32 = 9;
const COUNT_MASK: u64 = 0xffffffff;
const TAG_MASK: u64 = 0xffffffff00000000;

/** b: slices are 2^b ms; windowMs is validated by the host (100 .. 3,600,000). */
@inline
function sliceShift(windowMs: i32): i32 {
  return 27 - clz<i32>(windowMs);
}

/** Slices in the window, K = ceil(windowMs / 2^b). */
@inline
function sliceCount(windowMs: i32, b: i32): i32 {
  return (windowMs + (1 << b) - 1) >> b;
}

@inline
function epochMask(b: i32): i32 {
  return (1 << (30 - b)) - 1;
}

@inline
function floorMask(b: i32): i32 {
  return 30 - b < 22 ? (1 << (30 - b)) - 1 : (1 << 22) - 1;
}

function sliceAdd(addr: u32, epoch: i32, emask: i32): void {
  const tag = (<u64>epoch) << 32;
  for (;;) {
    const v = atomic.load<u64>(addr);
    let next: u64;
    if ((v & COUNT_MASK) == 0) {
      next = tag | 1;
    } else if ((v & TAG_MASK) == tag) {
      if ((v & COUNT_MASK) == COUNT_MASK) return;
      next = v + 1;
    } else {
      // Another slice's word: advance it if it is older than ours; if it is newer, this
      // reading of the clock is a whole ring behind and the add is dropped.
      if (((epoch - <i32>(v >>> 32)) & emask) > (emask >>> 1)) return;
      next = tag | 1;
    }
    if (atomic.cmpxchg<u64>(addr, v, next) == v) return;
  }
}

/** Adds one call (and one failure when `failure`) at tick `now` to the window before `ctl`. */
export function windowAdd(ctl: u32, now: i32, windowMs: i32, failure: bool): void {
  const b = sliceShift(windowMs);
  const emask = epochMask(b);
  const epoch = (now >>> b) & emask;
  const slot = ctl - WINDOW_BYTES + <u32>((epoch & (RING - 1)) << 4);
  sliceAdd(slot, epoch, emask);
  if (failure) sliceAdd(slot + 8, epoch, emask);
}

/** Whether slice `tag` is before the floor (floor field `floor`: F + 1, 0 for none). */
@inline
function beforeFloor(tag: i32, floor: i32, fmask: i32, k: i32): bool {
  if (floor == 0) return false;
  const before = ((floor - 1) - tag) & fmask;
  return before != 0 && before <= 2 * k;
}

/**
 * The count in slot word `v` if it belongs to slice `tag`, else 0. Slice c - j (j < K) can
 * only be in slot (c - j) mod RING, and K <= RING, so the window is read as the K slots of
 * its slices, each counted only if its word carries that slice's tag.
 */
@inline
function countOf(v: u64, tag: i32): u64 {
  return (v & TAG_MASK) == (<u64>tag) << 32 ? v & COUNT_MASK : 0;
}

/**
 * Whether the window at tick `now` trips the breaker: at least `minimumCalls` calls and
 * failures >= rate * calls. `closedWord` is the Closed word the caller read (its floor).
 */
export function windowTrips(ctl: u32, now: i32, windowMs: i32, closedWord: i32, rate: f64, minimumCalls: i32): bool {
  const b = sliceShift(windowMs);
  const emask = epochMask(b);
  const fmask = floorMask(b);
  const k = sliceCount(windowMs, b);
  const epoch = (now >>> b) & emask;
  const floor = closedWord >>> FLOOR_SHIFT;
  const win = ctl - WINDOW_BYTES;
  let failures: u64 = 0;
  for (let j: i32 = 0; j < k; j++) {
    const tag = (epoch - j) & emask;
    if (!beforeFloor(tag, floor, fmask, k)) failures += countOf(atomic.load<u64>(win + <u32>((tag & (RING - 1)) << 4) + 8), tag);
  }
  if (failures == 0) return false;
  let calls: u64 = 0;
  for (let j: i32 = 0; j < k; j++) {
    const tag = (epoch - j) & emask;
    if (!beforeFloor(tag, floor, fmask, k)) calls += countOf(atomic.load<u64>(win + <u32>((tag & (RING - 1)) << 4)), tag);
  }
  if (calls < <u64>minimumCalls) return false;
  return <f64>failures >= rate * <f64>calls;
}

/**
 * Whether the floor of the Closed word `closedWord` no longer matters at tick `now`: the
 * window has moved past it (or it is so old that it reads as far away). The recording
 * thread then clears it, so that an old floor can never come round again modulo its
 * range and hide a window.
 */
export function floorSpent(closedWord: i32, now: i32, windowMs: i32): bool {
  const floor = closedWord >>> FLOOR_SHIFT;
  if (floor == 0) return false;
  const b = sliceShift(windowMs);
  return (((now >>> b) + 1 - (floor - 1)) & floorMask(b)) >= sliceCount(windowMs, b);
}

/** The Closed word that starts a new window at tick `now` (no failures, floor set). */
export function closedWordAt(now: i32, windowMs: i32): i32 {
  const b = sliceShift(windowMs);
  const floor = (((now >>> b) + 1) & floorMask(b)) + 1;
  return floor << FLOOR_SHIFT;
}
