/*
 * The record path of a classic (explicit-bucket) histogram: one observation is one call
 * into Wasm that adds 1 to the bucket's count and the value to the sum. The bucket is
 * chosen by the host (src/kinds/buckets.ts keeps the bucket math apart from these cells,
 * as HdrHistogram keeps its index math apart from its storage), so the bounds never have
 * to live in shared memory.
 *
 * Cells, laid out by the host like a counter set of B + 1 fields (src/kinds/histogram.ts):
 * fields 0..B-1 are the per-bucket counts (not cumulative: an observation touches one
 * cell), field B's 8-byte cell is the sum as f64 bits (gauges.ts). The count is the sum of
 * the buckets, so count and buckets always agree.
 *   ...Shared  the shared stripe: a 64-bit atomic add on the bucket, a CAS add on the sum.
 *   ...Owned   this thread's own stripe: the owned-cell protocol of counters.ts on the
 *              bucket (plain store of a tagged low word), an owner-only store of the sum.
 * The bucket is written before the sum, and the host reads the sum before the buckets
 * (src/kinds/histogram.ts): a read never shows an observation in the sum that is not in
 * the count, while one in flight may be in the count and not yet in the sum (each cell
 * is exact; the pair is not a transaction). The owned form relies on the sum's store
 * being atomic: it releases the plain bucket store before it to any reader that sees it.
 */
import { ownedInc } from './counters';
import { f64BaseAdd, f64OwnedAdd, gaugeAdd } from './gauges';

export function histObserveShared(bucket: u32, sum: u32, v: f64): void {
  atomic.add<u64>(bucket, 1);
  gaugeAdd(sum, v);
}

export function histObserveOwned(low: u32, high: u32, sum: u32, v: f64): void {
  ownedInc(low, high);
  f64OwnedAdd(sum, v);
}

/**
 * The base cells of a contention-adaptive series (src/kinds/adaptive-cells.ts): as
 * histObserveShared, and 1 when the sum's swap failed (another thread observed the same
 * series at the same instant), the signal that inflates the series, or when the series
 * already has its stripes (the inflation word follows the sum: gauges.ts f64BaseAdd).
 */
export function histObserveBase(bucket: u32, sum: u32, v: f64): i32 {
  atomic.add<u64>(bucket, 1);
  return f64BaseAdd(sum, v);
}
