/*
 * The pure-JS twin of assembly/gauges.ts and assembly/histogram.ts: the same cells, the
 * same protocol (see the essay at the top of assembly/gauges.ts), so that JS and Wasm
 * threads can write one cell together.
 *
 * A double is moved to and from its bits through a small thread-local scratch buffer
 * (a Float64Array and a BigInt64Array over the same 8 bytes); the shared cell itself is
 * only touched with Atomics on a BigInt64Array: a Float64Array access is not tear-free
 * under races (ECMA-262 IsNoTearConfiguration covers integer and BigInt arrays only).
 */
import type { CellOps } from './cells.js';
import { ownedRecordCarrying } from './cells-js.js';
import type { MetricOps } from './metrics.js';

class JsMetricOps implements MetricOps {
  private readonly i64: BigInt64Array;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly f = new Float64Array(1);
  private readonly bits = new BigInt64Array(this.f.buffer);

  constructor(
    buffer: ArrayBufferLike,
    private readonly cells: CellOps,
  ) {
    this.i64 = new BigInt64Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }

  gaugeSet(cell: number, v: number): void {
    this.f[0] = v;
    Atomics.store(this.i64, cell >>> 3, this.bits[0]!);
  }

  gaugeGet(cell: number): number {
    this.bits[0] = Atomics.load(this.i64, cell >>> 3);
    return this.f[0]!;
  }

  gaugeAdd(cell: number, d: number): void {
    const i = cell >>> 3;
    let seen = Atomics.load(this.i64, i);
    for (;;) {
      this.bits[0] = seen;
      this.f[0] = this.f[0]! + d;
      // Swap in the new bits only if nobody changed the cell since we read it; otherwise
      // add to the value that beat us (the one compareExchange returns).
      const was = Atomics.compareExchange(this.i64, i, seen, this.bits[0]!);
      if (was === seen) return;
      seen = was;
    }
  }

  f64BaseAdd(cell: number, d: number): number {
    const i = cell >>> 3;
    let seen = Atomics.load(this.i64, i);
    let contended = 0;
    for (;;) {
      this.bits[0] = seen;
      this.f[0] = this.f[0]! + d;
      const was = Atomics.compareExchange(this.i64, i, seen, this.bits[0]!);
      // Set inflation word (the 8 bytes after the cell): assembly/counters.ts baseInc.
      if (was === seen) return contended !== 0 || this.i64[i + 1] !== 0n ? 1 : 0;
      seen = was;
      contended = 1;
    }
  }

  f64OwnedAdd(cell: number, d: number): void {
    const i = cell >>> 3;
    // Only this thread writes the cell, so a plain read sees its own last store.
    this.bits[0] = this.i64[i]!;
    this.f[0] = this.f[0]! + d;
    Atomics.store(this.i64, i, this.bits[0]!);
  }

  f64SumStriped(shared: number, firstOwned: number, stride: number, stripes: number): number {
    let total = this.gaugeGet(shared);
    for (let k = 0; k < stripes; k++) total += this.gaugeGet(firstOwned + k * stride);
    return total;
  }

  f64BaseSet(cell: number, v: number): number {
    // The inflation word: the 8 bytes after the cell (assembly/gauges.ts f64BaseSet).
    if (Atomics.load(this.i64, (cell >>> 3) + 1) !== 0n) return 1;
    this.gaugeSet(cell, v);
    return 0;
  }

  f64SetStriped(base: number, v: number, firstStripe: number, stride: number, stripes: number): void {
    // Stripes first, base last (src/kinds/gauge.ts says why); +0's bits are 0.
    for (let k = 0; k < stripes; k++) Atomics.store(this.i64, (firstStripe + k * stride) >>> 3, 0n);
    this.gaugeSet(base, v);
  }

  histObserveShared(bucket: number, sum: number, v: number): void {
    this.cells.sharedInc(bucket);
    this.gaugeAdd(sum, v);
  }

  histObserveBase(bucket: number, sum: number, v: number): number {
    this.cells.sharedInc(bucket);
    return this.f64BaseAdd(sum, v);
  }

  // Whole or absent in a thread terminated at any instant (stats-js.ts says where V8 acts
  // on a termination: a function's entry, a loop's back edge): the bucket's plain store
  // and the sum's with no call between them. A bucket that carries goes first, whole, to
  // ownedRecordCarrying (a thread stopped at its entry has recorded nothing), and the sum
  // follows it with no call either. The sum's store is plain too: an Atomics.store on a
  // BigInt64Array is a call to a builtin, which unoptimized code enters like any function,
  // and a thread stopped there kept its bucket without its sum (42 of 100 terminated
  // threads in test/histogram-killed-observer.threads.test.ts). The price is the release
  // the atomic store gave the bucket's plain store (histogram.ts, "Reads"): program order
  // keeps the bucket first on x64 (stores are not reordered there), and where a CPU may
  // reorder stores a read can see this writer's sum lead its count by the one
  // observation in flight, never once the writer is quiet. The bucket first, the sum
  // second, as every observation is written.
  histObserveOwned(low: number, high: number, sum: number, v: number): void {
    const s = sum >>> 3;
    this.bits[0] = this.i64[s]!; // only this thread writes the cell: a plain read sees its own last store
    this.f[0] = this.f[0]! + v;
    const bits = this.bits[0]!;
    const u = this.u32;
    const i = low >>> 2;
    const w = u[i]!;
    const t = (w & 0xffffff) + 1;
    if (t <= 0xffffff) u[i] = (w & -16777216) | t;
    else ownedRecordCarrying(u, this.u64, low, high, [0], [1]);
    this.i64[s] = bits;
  }
}

export function jsMetricOps(buffer: ArrayBufferLike, cells: CellOps): MetricOps {
  return new JsMetricOps(buffer, cells);
}
