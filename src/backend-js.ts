import type { CellOps } from './backend.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const SEQ_SPIN_LIMIT = 1 << 20;
const TWO32 = 4294967296;

/**
 * The pure-JS twin of assembly/counters.ts: same cells, same protocol (see the comment
 * at the top of that file for why owned cells are two u32 halves under a seqlock).
 *
 * Shared cells use Atomics on a BigUint64Array: the same 8-byte atomic RMW as Wasm's
 * `i64.atomic.rmw.add`, so JS and Wasm threads can add to one cell. (Splitting into two
 * 32-bit atomics would be faster here but would race with the Wasm 64-bit add, and a
 * reader could see the low word wrapped before the high word was bumped.)
 *
 * Owned cells use a plain Uint32Array store for the low word: ECMA-262 makes aligned
 * integer typed-array accesses tear-free (IsNoTearConfiguration), so racing readers see
 * the old or the new word.
 */
class JsCellOps implements CellOps {
  readonly kind = 'js' as const;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;

  constructor(memory: WebAssembly.Memory) {
    this.u32 = new Uint32Array(memory.buffer);
    this.u64 = new BigUint64Array(memory.buffer);
  }

  sharedInc(cell: number): void {
    Atomics.add(this.u64, cell >>> 3, 1n);
  }

  sharedAdd(cell: number, lo: number, hi: number): void {
    Atomics.add(this.u64, cell >>> 3, hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo));
  }

  ownedInc(seq: number, cell: number): void {
    const i = cell >>> 2;
    const lo = this.u32[i]! + 1;
    if (lo < TWO32) this.u32[i] = lo;
    else this.carry(seq, i, 0, 1);
  }

  ownedAdd(seq: number, cell: number, lo: number, hi: number): void {
    const i = cell >>> 2;
    const sum = this.u32[i]! + lo;
    if (hi === 0 && sum < TWO32) this.u32[i] = sum;
    else this.carry(seq, i, sum >>> 0, hi + (sum >= TWO32 ? 1 : 0));
  }

  private carry(seq: number, i: number, newLo: number, hiDelta: number): void {
    const u32 = this.u32;
    const s = seq >>> 2;
    const v = u32[s]!;
    Atomics.store(u32, s, v + 1);
    Atomics.store(u32, i, newLo);
    Atomics.store(u32, i + 1, (u32[i + 1]! + hiDelta) >>> 0);
    Atomics.store(u32, s, v + 2);
  }

  private readOwned(seq: number, cell: number): bigint {
    const u32 = this.u32;
    const s = seq >>> 2;
    const i = cell >>> 2;
    let hi = 0;
    let lo = 0;
    for (let spins = 0; ; spins++) {
      const s1 = Atomics.load(u32, s);
      hi = Atomics.load(u32, i + 1);
      lo = Atomics.load(u32, i);
      const s2 = Atomics.load(u32, s);
      if ((s1 === s2 && (s1 & 1) === 0) || spins >= SEQ_SPIN_LIMIT) break;
    }
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  readShared(cell: number): number {
    const v = Atomics.load(this.u64, cell >>> 3);
    return v > MAX_SAFE_BIG ? -1 : Number(v);
  }

  readShared64(cell: number): bigint {
    return Atomics.load(this.u64, cell >>> 3);
  }

  readStriped(sharedCell: number, firstOwned: number, cellOffset: number, stride: number, stripes: number): number {
    const v = this.readStriped64(sharedCell, firstOwned, cellOffset, stride, stripes);
    return v > MAX_SAFE_BIG ? -1 : Number(v);
  }

  readStriped64(sharedCell: number, firstOwned: number, cellOffset: number, stride: number, stripes: number): bigint {
    let total = Atomics.load(this.u64, sharedCell >>> 3);
    let cell = firstOwned;
    for (let k = 0; k < stripes; k++) {
      total += this.readOwned(cell - cellOffset, cell);
      cell += stride;
    }
    return BigInt.asUintN(64, total);
  }
}

export function jsCellOps(memory: WebAssembly.Memory): CellOps {
  return new JsCellOps(memory);
}
