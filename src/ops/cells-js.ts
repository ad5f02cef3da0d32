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
    const stored = this.u64[j]!;
    const d = (((w >>> 24) - Number(stored & 0xffn) + 128) & 0xff) - 128;
    const h = BigInt.asUintN(64, stored + BigInt(d) + BigInt(Math.floor(t / 0x1000000)));
    Atomics.store(this.u64, j, h);
    Atomics.store(this.u32, i, ((Number(h & 0xffn) << 24) | (t & LOW_MASK)) >>> 0);
  }

  private readOwned(low: number, high: number): bigint {
    const j = high >>> 3;
    let h = 0n;
    let w = 0;
    for (let tries = 0; tries < READ_RETRIES; tries++) {
      h = Atomics.load(this.u64, j);
      w = Atomics.load(this.u32, low >>> 2);
      if (Atomics.load(this.u64, j) === h) break;
    }
    const d = (((w >>> 24) - Number(h & 0xffn) + 128) & 0xff) - 128;
    return ((h + BigInt(d)) << 24n) + BigInt(w & LOW_MASK);
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

export function jsCellOps(buffer: ArrayBufferLike): CellOps {
  return new JsCellOps(buffer);
}
