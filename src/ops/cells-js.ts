import type { CellOps } from './cells.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
// The hot paths below spell their masks as literals: the bundler turns module constants
// into `var`s that V8 reloads on every call, and 0xff000000 is not even a small integer
// (it would be unboxed from a heap number each time). -16777216 is 0xff000000 as an int32.
const LOW_MASK = 0xffffff;
const READ_RETRIES = 64;

/**
 * The pure-JS twin of assembly/counters.ts: same cells, same protocol (the comment at
 * the top of that file explains the owned cells' tagged low word).
 *
 * Shared cells use Atomics on a BigUint64Array: the same 8-byte atomic RMW as Wasm's
 * `i64.atomic.rmw.add`, so JS and Wasm threads can add to one cell. (Two 32-bit atomics
 * would be cheaper here but would race with the Wasm 64-bit add, and a reader could see
 * the low word wrapped before the high word was bumped.)
 *
 * Owned low words are written with a plain Uint32Array store: ECMA-262 makes aligned
 * integer typed-array accesses tear-free (IsNoTearConfiguration), so a racing reader
 * sees the old or the new word, and the word's tag makes it readable on its own.
 */
class JsCellOps implements CellOps {
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;

  constructor(buffer: ArrayBufferLike) {
    this.u32 = new Uint32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }

  sharedInc(cell: number): void {
    Atomics.add(this.u64, cell >>> 3, 1n);
  }

  sharedAdd(cell: number, lo: number, hi: number): void {
    Atomics.add(this.u64, cell >>> 3, hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo));
  }

  // BigInt arithmetic for the swap's new value: the 'js' backend only ('auto' takes these
  // from the core, bind.ts), and the same 64-bit cell the core's atomics write.
  baseInc(cell: number): number {
    const i = cell >>> 3;
    const v = Atomics.load(this.u64, i);
    if (Atomics.compareExchange(this.u64, i, v, BigInt.asUintN(64, v + 1n)) === v) return this.u32[(cell + 8) >>> 2] !== 0 ? 1 : 0;
    Atomics.add(this.u64, i, 1n);
    return 1;
  }

  baseAdd(cell: number, lo: number, hi: number): number {
    const i = cell >>> 3;
    const n = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    const v = Atomics.load(this.u64, i);
    if (Atomics.compareExchange(this.u64, i, v, BigInt.asUintN(64, v + n)) === v) return this.u32[(cell + 8) >>> 2] !== 0 ? 1 : 0;
    Atomics.add(this.u64, i, n);
    return 1;
  }

  ownedInc(low: number, high: number): void {
    const i = low >>> 2;
    const w = this.u32[i]!;
    const t = (w & 0xffffff) + 1;
    if (t <= 0xffffff) this.u32[i] = (w & -16777216) | t;
    else this.carry(i, high, w, t);
  }

  ownedAdd(low: number, high: number, n: number): void {
    const i = low >>> 2;
    const w = this.u32[i]!;
    const t = (w & 0xffffff) + n;
    if (t <= 0xffffff) this.u32[i] = (w & -16777216) | t;
    else this.carry(i, high, w, t);
  }

  // New high first, then the low word tagged with it, the new high built on the high that
  // the low word `w`'s tag names (see ownedCarry in assembly/counters.ts: it matters for a
  // stripe taken over from a thread terminated in the middle of a carry).
  private carry(i: number, high: number, w: number, t: number): void {
    const j = high >>> 3;
    const h = carriedHigh(w, this.u64[j]!, t);
    Atomics.store(this.u64, j, h);
    Atomics.store(this.u32, i, ((Number(h & 0xffn) << 24) | (t & LOW_MASK)) >>> 0);
  }

  private readOwned(low: number, high: number): bigint {
    return readOwned64(this.u32, this.u64, low, high);
  }

  readShared(cell: number): number {
    const v = Atomics.load(this.u64, cell >>> 3);
    return v > MAX_SAFE_BIG ? -1 : Number(v);
  }

  readShared64(cell: number): bigint {
    return Atomics.load(this.u64, cell >>> 3);
  }

  readStriped(sharedCell: number, firstLow: number, firstHigh: number, stride: number, stripes: number): number {
    const v = this.readStriped64(sharedCell, firstLow, firstHigh, stride, stripes);
    return v > MAX_SAFE_BIG ? -1 : Number(v);
  }

  readStriped64(sharedCell: number, firstLow: number, firstHigh: number, stride: number, stripes: number): bigint {
    let total = Atomics.load(this.u64, sharedCell >>> 3);
    for (let k = 0; k < stripes; k++) total += this.readOwned(firstLow + k * stride, firstHigh + k * stride);
    return BigInt.asUintN(64, total);
  }
}

/**
 * An owned cell's total: its high word, corrected by the tag of its low word, and the low
 * word's 24 bits (assembly/counters.ts: the high word is stored before the low word it
 * tags, so a high word read twice around the low word pairs with it).
 */
export function readOwned64(u32: Uint32Array, u64: BigUint64Array, low: number, high: number): bigint {
  const j = high >>> 3;
  let h = 0n;
  let w = 0;
  for (let tries = 0; tries < READ_RETRIES; tries++) {
    h = Atomics.load(u64, j);
    w = Atomics.load(u32, low >>> 2);
    if (Atomics.load(u64, j) === h) break;
  }
  const d = (((w >>> 24) - Number(h & 0xffn) + 128) & 0xff) - 128;
  return ((h + BigInt(d)) << 24n) + BigInt(w & LOW_MASK);
}

/**
 * One record of several owned cells of a stripe, one of which at least carries into its
 * high word: adds `amounts[k]` (each < 2^30, 0 = field untouched) to field `fields[k]`
 * (low word at byte a + 4 field, high word at b + 8 field; fields distinct), whole or not
 * at all in a thread that is terminated at any instant.
 *
 * Why it is built so. V8 acts on a termination request (worker.terminate()) at a
 * function's entry and at a loop's back edge. The record paths (stats-js.ts, breaker-js.ts)
 * make no call between their first and last store, so they are whole or absent; a carry
 * is the exception, and when they handed a carrying cell to `ownedInc` between two
 * stores, a thread stopped at that call's entry (the branch is cold, so optimized code
 * deoptimizes there and the interpreter makes a real call) left the record's later cells
 * uncounted: with a cell near 2^24 at every few records, most terminated writers lost one
 * increment. So the record paths check every cell first and call this before storing any.
 * Here everything is computed before the first store (loops and calls allowed). Then the
 * new high words are stored, atomically, before any low word: a high word alone leaves its
 * cell's value as it was (a reader, and a carry of the next owner, build on the high that
 * the low word's tag names, and the tags still name the old ones), so a thread stopped
 * among those stores has recorded nothing. Last come the low words, which make the
 * record: plain stores, as in the fast path, with no call and no loop between them.
 */
export function ownedRecordCarrying(u32: Uint32Array, u64: BigUint64Array, a: number, b: number, fields: readonly number[], amounts: readonly number[]): void {
  const lows: number[] = [];
  const words: number[] = [];
  const highs: number[] = [];
  const values: bigint[] = [];
  for (let k = 0; k < fields.length; k++) {
    const n = amounts[k]!;
    if (n === 0) continue;
    const i = (a >>> 2) + fields[k]!;
    const w = u32[i]!;
    const t = (w & LOW_MASK) + n;
    lows.push(i);
    if (t <= LOW_MASK) {
      words.push(((w & 0xff000000) | t) >>> 0);
      continue;
    }
    const j = (b >>> 3) + fields[k]!;
    const h = carriedHigh(w, u64[j]!, t);
    highs.push(j);
    values.push(h);
    words.push(((Number(h & 0xffn) << 24) | (t & LOW_MASK)) >>> 0);
  }
  // From here to the end: no loop (at most 6 fields), and no call after the first low word.
  const c = highs.length;
  if (c > 0) Atomics.store(u64, highs[0]!, values[0]!);
  if (c > 1) Atomics.store(u64, highs[1]!, values[1]!);
  if (c > 2) Atomics.store(u64, highs[2]!, values[2]!);
  if (c > 3) Atomics.store(u64, highs[3]!, values[3]!);
  if (c > 4) Atomics.store(u64, highs[4]!, values[4]!);
  if (c > 5) Atomics.store(u64, highs[5]!, values[5]!);
  const m = lows.length;
  if (m > 0) u32[lows[0]!] = words[0]!;
  if (m > 1) u32[lows[1]!] = words[1]!;
  if (m > 2) u32[lows[2]!] = words[2]!;
  if (m > 3) u32[lows[3]!] = words[3]!;
  if (m > 4) u32[lows[4]!] = words[4]!;
  if (m > 5) u32[lows[5]!] = words[5]!;
}

/**
 * The high word a carry stores: built on the high that the low word `w`'s tag names, not
 * on the stored one (ownedCarry in assembly/counters.ts says why), plus the carry out of
 * `t`, the new low part before reduction.
 */
function carriedHigh(w: number, stored: bigint, t: number): bigint {
  const d = (((w >>> 24) - Number(stored & 0xffn) + 128) & 0xff) - 128;
  return BigInt.asUintN(64, stored + BigInt(d) + BigInt(Math.floor(t / 0x1000000)));
}

export function jsCellOps(buffer: ArrayBufferLike): CellOps {
  return new JsCellOps(buffer);
}
