/**
 * The operations on counter cells, given addresses the host laid out (layout.ts). Two
 * implementations with the same semantics on the same memory: cells-wasm.ts (the
 * AssemblyScript core's exports) and cells-js.ts (Atomics on views). A 'js' thread and a
 * 'wasm' thread can update the same cells: both use 64-bit atomic adds on shared cells
 * and the same tagged low/high words on owned stripes (assembly/counters.ts explains the
 * owned-cell protocol). bind.ts picks, op by op, which of the two a registry object uses.
 *
 * Numbers crossing the boundary are u32 halves (`lo`, `hi`), never an i64, which would
 * arrive in JS as a heap-allocated BigInt. Number reads return -1 for a value above
 * 2^53 - 1; the caller turns that into an UnsafeIntegerError.
 */
export interface CellOps {
  sharedInc(cell: number): void;
  sharedAdd(cell: number, lo: number, hi: number): void;
  /**
   * Adds 1 to the base cell of a contention-adaptive series by compare-and-swap: 1 when
   * the swap failed (contention; the add then lands by an atomic add) or the series'
   * inflation word (the 8 bytes after the cell) is set, else 0.
   */
  baseInc(cell: number): number;
  /** As baseInc, adding `hi * 2^32 + lo`. */
  baseAdd(cell: number, lo: number, hi: number): number;
  ownedInc(low: number, high: number): void;
  /** `n` < 2^30 (OWNED_ADD_LIMIT). */
  ownedAdd(low: number, high: number, n: number): void;
  readShared(cell: number): number;
  readShared64(cell: number): bigint;
  readStriped(sharedCell: number, firstLow: number, firstHigh: number, stride: number, stripes: number): number;
  readStriped64(sharedCell: number, firstLow: number, firstHigh: number, stride: number, stripes: number): bigint;
}
