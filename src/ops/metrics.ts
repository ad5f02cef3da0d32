/*
 * The float64 and histogram operations of the metric kinds, as one op set with two
 * implementations over the same cells: the Wasm exports of assembly/gauges.ts and
 * assembly/histogram.ts (metrics-wasm.ts), and the pure-JS twin (metrics-js.ts). The two
 * are halves of one contract: a cell is an f64's bits in an 8-byte aligned u64,
 * only ever accessed with 64-bit atomics (assembly/gauges.ts explains why), so a 'js'
 * thread and a 'wasm' thread can update one gauge or one histogram together.
 */

export interface MetricOps {
  /** Atomic store of `v` (a gauge's `set`). */
  gaugeSet(cell: number, v: number): void;
  gaugeGet(cell: number): number;
  /** Exact atomic add (CAS loop on the bits). */
  gaugeAdd(cell: number, d: number): void;
  /** gaugeAdd on the base cell of a contention-adaptive series: 1 when a swap failed (contention), else 0. */
  f64BaseAdd(cell: number, d: number): number;
  /** Owner-only add to this thread's own stripe: plain load, atomic store. */
  f64OwnedAdd(cell: number, d: number): void;
  f64SumStriped(shared: number, firstOwned: number, stride: number, stripes: number): number;
  /** gaugeSet on the base cell of a contention-adaptive gauge series: 0 once stored, or 1 (nothing stored) when its inflation word is set. */
  f64BaseSet(cell: number, v: number): number;
  /** A gauge's set on a series with stripes: atomic stores of 0 into every stripe's cell, then of `v` into the base cell. */
  f64SetStriped(base: number, v: number, firstStripe: number, stride: number, stripes: number): void;
  histObserveShared(bucket: number, sum: number, v: number): void;
  histObserveOwned(low: number, high: number, sum: number, v: number): void;
  /** histObserveShared on the base cells of a contention-adaptive series: 1 when the sum's swap failed (contention), else 0. */
  histObserveBase(bucket: number, sum: number, v: number): number;
}
