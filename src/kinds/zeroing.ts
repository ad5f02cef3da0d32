/*
 * Zeroing a series in place (zero(), and the reset of an unlabelled series or of a
 * summary's), when writers, and other zeroings of the same series, run at the same time.
 *
 * A cell's total is its shared cell plus its cell in every stripe the series has. A stripe
 * cell is written by its owner only (plain stores on an owned stripe; adaptive-cells.ts,
 * layout.ts), so no zeroing may change it: a zeroing moves the shared cell instead.
 *
 * It once added to the shared cell the negation of the total it read. That loses no racing
 * write, but two zeroings that overlap (two threads calling reset() at once) both subtract
 * the same total: a counter of 5 then read 2^64 - 5, and kept it until the next zeroing.
 * So the shared cell is now SET, to minus the total of the stripes, read first:
 *   - a set is idempotent: of two zeroings that overlap, the later set stands, and the
 *     total is what the stripes gained since that one read them, never below zero;
 *   - a write to the shared cell before the set is zeroed with it, one after it is kept:
 *     either way it raced with the zeroing, and lands on one side of it whole;
 *   - a stripe cell only ever grows (its owner adds; nobody subtracts), so minus an
 *     earlier total of the stripes plus their current total is what they gained since.
 * A series without stripes (no block yet, or `striped: false`) has a shared cell only:
 * the set is to zero. A block published between the read of the stripes and the set is
 * read as none: what its stripes gained by then stays, as any write racing the zeroing.
 */
import { readOwned64 } from '../ops/cells-js.js';
import type { MetricOps } from '../ops/metrics.js';

/** Where a series' u64 cell lies in each stripe: the first stripe's low and high words, and the stride. */
export interface OwnedStripes {
  readonly firstLow: number;
  readonly firstHigh: number;
  readonly stride: number;
  readonly stripes: number;
}

interface Views {
  readonly u32: Uint32Array;
  readonly u64: BigUint64Array;
}

const viewsOf = new WeakMap<ArrayBufferLike, Views>();

function views(buffer: ArrayBufferLike): Views {
  let v = viewsOf.get(buffer);
  if (v === undefined) viewsOf.set(buffer, (v = { u32: new Uint32Array(buffer), u64: new BigUint64Array(buffer) }));
  return v;
}

/** Zeroes the u64 cell whose shared cell is at byte `shared` and whose owned cells are `owned` (none: undefined). */
export function zeroU64(buffer: ArrayBufferLike, shared: number, owned: OwnedStripes | undefined): void {
  const { u32, u64 } = views(buffer);
  let stripes = 0n;
  if (owned !== undefined) {
    for (let k = 0; k < owned.stripes; k++) stripes += readOwned64(u32, u64, owned.firstLow + k * owned.stride, owned.firstHigh + k * owned.stride);
  }
  Atomics.store(u64, shared >>> 3, BigInt.asUintN(64, -stripes));
}

/** Where a series' f64 cell lies in each stripe: the first stripe's cell, and the stride. */
export interface F64Stripes {
  readonly first: number;
  readonly stride: number;
  readonly stripes: number;
}

/** Zeroes the f64 cell whose shared cell is at byte `shared` and whose stripe cells are `owned` (none: undefined). */
export function zeroF64(m: MetricOps, shared: number, owned: F64Stripes | undefined): void {
  let total = 0;
  if (owned !== undefined) for (let k = 0; k < owned.stripes; k++) total += m.gaugeGet(owned.first + k * owned.stride);
  m.gaugeSet(shared, total === 0 ? 0 : -total);
}
