/*
 * The pure-JS twin of assembly/breaker-window.ts: the failure-rate window's ring of time
 * slices, on a BigInt64Array of the same memory (Atomics on it are the same 64-bit
 * sequentially consistent operations as Wasm's i64 atomics). The design (slices of 2^b ms,
 * tagged 64-bit words, the floor in the Closed word) is explained there and not repeated.
 * Also the reader behind `metrics()`'s window_calls / window_failures, for both backends.
 */

/** Bytes the window takes right before the control block when the rate policy is on. */
export const WINDOW_BYTES = 512;
const RING = 32;
const FLOOR_SHIFT = 9;
const COUNT_MASK = 0xffffffffn;

/** Slice width 2^b ms: the largest b with windowMs / 2^b >= 16 (windowMs >= 100). */
export function sliceShift(windowMs: number): number {
  return 27 - Math.clz32(windowMs);
}

/** Slices in the window: ceil(windowMs / 2^b), 16..32. */
export function sliceCount(windowMs: number, b: number): number {
  return (windowMs + (1 << b) - 1) >> b;
}

function epochMask(b: number): number {
  return (1 << (30 - b)) - 1;
}

function floorMask(b: number): number {
  return 30 - b < 22 ? (1 << (30 - b)) - 1 : (1 << 22) - 1;
}

// The slice a thread last added to, with its word bounds as BigInts: a word of that slice
// with count c is lo + c. Cached so that the common add (the current slice again) costs
// one BigInt load and one BigInt increment.
let addEpoch = -1;
let addLo = 0n;
let addFull = 0n;
let addFirst = 1n;

function sliceAdd(i64: BigInt64Array, index: number, epoch: number, emask: number): void {
  if (epoch !== addEpoch) {
    addLo = BigInt(epoch) << 32n;
    addFull = addLo + COUNT_MASK;
    addFirst = addLo + 1n;
    addEpoch = epoch;
  }
  for (;;) {
    const v = Atomics.load(i64, index);
    let next: bigint;
    if (v > addLo && v < addFull) {
      next = v + 1n;
    } else if (v === addFull) {
      return;
    } else if ((v & COUNT_MASK) === 0n) {
      next = addFirst;
    } else {
      // Another slice's word: advance it if it is older than ours; if it is newer, this
      // reading of the clock is a whole ring behind and the add is dropped.
      if (((epoch - Number(v >> 32n)) & emask) > emask >>> 1) return;
      next = addFirst;
    }
    if (Atomics.compareExchange(i64, index, v, next) === v) return;
  }
}

/** Adds one call (and a failure when `failure`) at tick `now` to the window before `ctl`. */
export function windowAdd(i64: BigInt64Array, ctl: number, now: number, windowMs: number, failure: boolean): void {
  const b = sliceShift(windowMs);
  const emask = epochMask(b);
  const epoch = (now >>> b) & emask;
  const index = (ctl - WINDOW_BYTES + ((epoch & (RING - 1)) << 4)) >>> 3;
  sliceAdd(i64, index, epoch, emask);
  if (failure) sliceAdd(i64, index + 1, epoch, emask);
}

/**
 * Which slots to read for the window at slice `cur` (see the Wasm twin: slice cur - j, for
 * j < K, can only be in slot (cur - j) mod RING, counted if its word carries that tag and
 * it is not before the floor), with each slice's word bounds as BigInts: a word w counts
 * w - lo when lo < w < lo + 2^32. Rebuilt when the slice or the floor changes, so a record
 * costs one BigInt load per slice and no BigInt arithmetic on words of other slices.
 */
const plan = { cur: -1, emask: 0, k: 0, floor: -1, size: 0, slots: new Int32Array(RING), lo: new Array<bigint>(RING).fill(0n), hi: new Array<bigint>(RING).fill(0n) };
function planFor(cur: number, emask: number, k: number, floor: number, fmask: number): typeof plan {
  if (plan.cur === cur && plan.emask === emask && plan.k === k && plan.floor === floor) return plan;
  let size = 0;
  for (let j = 0; j < k; j++) {
    const tag = (cur - j) & emask;
    if (floor !== 0) {
      const before = (floor - 1 - tag) & fmask;
      if (before !== 0 && before <= 2 * k) continue;
    }
    plan.slots[size] = tag & (RING - 1);
    plan.lo[size] = BigInt(tag) << 32n;
    plan.hi[size] = plan.lo[size]! + 0x100000000n;
    size++;
  }
  plan.cur = cur;
  plan.emask = emask;
  plan.k = k;
  plan.floor = floor;
  plan.size = size;
  return plan;
}

function sum(i64: BigInt64Array, first: number, p: typeof plan): number {
  let total = 0;
  for (let i = 0; i < p.size; i++) {
    const v = Atomics.load(i64, first + 2 * p.slots[i]!);
    if (v > p.lo[i]! && v < p.hi[i]!) total += Number(v - p.lo[i]!);
  }
  return total;
}

function sums(i64: BigInt64Array, ctl: number, now: number, windowMs: number, closedWord: number, callsOnlyIfFailures: boolean): { failures: number; calls: number } {
  const b = sliceShift(windowMs);
  const emask = epochMask(b);
  const p = planFor((now >>> b) & emask, emask, sliceCount(windowMs, b), closedWord >>> FLOOR_SHIFT, floorMask(b));
  const base = (ctl - WINDOW_BYTES) >>> 3;
  const failures = sum(i64, base + 1, p);
  if (failures === 0 && callsOnlyIfFailures) return { failures, calls: 0 };
  return { failures, calls: sum(i64, base, p) };
}

/**
 * The window's failures and calls at tick `now`, read as the trip decision reads them
 * (failures first: see assembly/breaker-window.ts). `closedWord`: the Closed word whose
 * floor applies, or 0 (no floor) when the breaker is not Closed.
 */
export function windowCounts(i64: BigInt64Array, ctl: number, now: number, windowMs: number, closedWord: number): { failures: number; calls: number } {
  return sums(i64, ctl, now, windowMs, closedWord, false);
}

/** Whether the window at tick `now` trips the breaker whose Closed word is `closedWord`. */
export function windowTrips(i64: BigInt64Array, ctl: number, now: number, windowMs: number, closedWord: number, rate: number, minimumCalls: number): boolean {
  const { failures, calls } = sums(i64, ctl, now, windowMs, closedWord, true);
  if (failures === 0 || calls < minimumCalls) return false;
  return failures >= rate * calls;
}

/** Whether the Closed word's floor no longer matters at tick `now` (see the Wasm twin). */
export function floorSpent(closedWord: number, now: number, windowMs: number): boolean {
  const floor = closedWord >>> FLOOR_SHIFT;
  if (floor === 0) return false;
  const b = sliceShift(windowMs);
  return (((now >>> b) + 1 - (floor - 1)) & floorMask(b)) >= sliceCount(windowMs, b);
}

/** The Closed word that starts a new window at tick `now` (no failures, floor set). */
export function closedWordAt(now: number, windowMs: number): number {
  const b = sliceShift(windowMs);
  return (((((now >>> b) + 1) & floorMask(b)) + 1) << FLOOR_SHIFT) | 0;
}
