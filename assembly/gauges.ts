/*
 * Float64 cells: gauges, fractional counters and the sums of histograms. Like
 * counters.ts, this module owns no memory: the host lays out every cell and passes its
 * address; nothing here is static data, heap or a global.
 *
 * Why the bits of a double travel as a u64. Wasm has no floating-point atomics, and a
 * plain 64-bit store may tear under a racing reader (counters.ts cites the memory
 * models), so every f64 cell is stored as its IEEE-754 bits in an 8-byte aligned u64 and
 * only ever touched with 64-bit atomic instructions: a reader always sees a double some
 * writer stored, never half of one.
 *
 * Three ways to write a cell:
 *   gaugeSet   an atomic store: `set` is not additive, the last store wins.
 *   gaugeAdd   a compare-and-swap loop on the bits (load, add in f64, cmpxchg; on failure
 *              retry with the value the cmpxchg saw). Every add lands exactly once, so
 *              concurrent inc/dec are exact -- as exact as the doubles involved: each add
 *              rounds once, like the same adds done one after another in some order.
 *              Lock-free, not wait-free: a thread retries only because another's add
 *              succeeded. A thread terminated mid-loop has either swapped (its add
 *              counted) or not (it did not); nothing is left half-done.
 *   f64OwnedAdd  the owner-only form for a thread's own stripe (histogram sums, striped
 *              fractional counters): a plain load of the owner's own last store, then an
 *              atomic store. One writer, so no CAS; readers see the old or the new sum.
 *   f64BaseSet  `set` on the base cell of a contention-adaptive gauge series: the store
 *              of gaugeSet while the series' inflation word is clear, else no store and 1.
 *   f64SetStriped  `set` on a gauge series that has stripes (src/kinds/gauge.ts): an
 *              atomic store of 0 into every stripe, then of the value into the base cell.
 *              The stripes of a gauge are written with gaugeAdd (a CAS), never with
 *              f64OwnedAdd, so that this store of 0 cannot be undone by an owner's plain
 *              load-and-store; src/kinds/gauge.ts says why the order is the one that makes
 *              a set exact.
 *
 * No NaN is ever stored (the host refuses NaN and infinities before calling), so the
 * bit patterns compared by the CAS are the values' own.
 */

export function gaugeSet(cell: u32, v: f64): void {
  atomic.store<u64>(cell, reinterpret<u64>(v));
}

export function gaugeGet(cell: u32): f64 {
  return reinterpret<f64>(atomic.load<u64>(cell));
}

export function gaugeAdd(cell: u32, d: f64): void {
  let seen = atomic.load<u64>(cell);
  for (;;) {
    const next = reinterpret<u64>(reinterpret<f64>(seen) + d);
    const was = atomic.cmpxchg<u64>(cell, seen, next);
    if (was == seen) return;
    seen = was;
  }
}

/**
 * gaugeAdd for the base cell of a contention-adaptive series (src/kinds/adaptive-cells.ts):
 * the same loop, and 1 when a swap failed, i.e. another thread wrote the cell between this
 * thread's load and its swap (contention), or when the series' inflation word, the 8
 * bytes after the cell, is set (counters.ts baseInc says why), else 0. The add lands
 * exactly once either way.
 */
export function f64BaseAdd(cell: u32, d: f64): i32 {
  let seen = atomic.load<u64>(cell);
  let contended: i32 = 0;
  while (true) {
    const next = reinterpret<u64>(reinterpret<f64>(seen) + d);
    const was = atomic.cmpxchg<u64>(cell, seen, next);
    if (was == seen) break;
    seen = was;
    contended = 1;
  }
  return contended | <i32>(load<i32>(cell + 8) != 0);
}

export function f64OwnedAdd(cell: u32, d: f64): void {
  atomic.store<u64>(cell, reinterpret<u64>(reinterpret<f64>(load<u64>(cell)) + d));
}

/**
 * gaugeSet on the base cell of a contention-adaptive gauge series: when its inflation word
 * (the 8 bytes after the cell) is clear, stores `v` and returns 0; otherwise stores nothing
 * and returns 1, and the host clears the series' stripes, if the word names a block it
 * trusts, before it stores (f64SetStriped).
 */
export function f64BaseSet(cell: u32, v: f64): i32 {
  if (atomic.load<i32>(cell + 8) != 0) return 1;
  atomic.store<u64>(cell, reinterpret<u64>(v));
  return 0;
}

/**
 * A gauge's set on a series with stripes (`firstStripe`, then every `stride` bytes): each
 * stripe's cell atomically zeroed, then `v` stored into the base cell, in that order.
 */
export function f64SetStriped(base: u32, v: f64, firstStripe: u32, stride: u32, stripes: u32): void {
  for (let i: u32 = 0; i < stripes; i++) atomic.store<u64>(firstStripe + i * stride, 0);
  atomic.store<u64>(base, reinterpret<u64>(v));
}

/**
 * A striped f64 total: the shared cell plus every owned stripe's cell (`firstOwned`,
 * then every `stride` bytes). Each stripe is read atomically; the total is a sum of
 * individually exact reads, not a snapshot.
 */
export function f64SumStriped(shared: u32, firstOwned: u32, stride: u32, stripes: u32): f64 {
  let total = reinterpret<f64>(atomic.load<u64>(shared));
  for (let i: u32 = 0; i < stripes; i++) total += reinterpret<f64>(atomic.load<u64>(firstOwned + i * stride));
  return total;
}
