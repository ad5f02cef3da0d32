import type { CellOps } from './cells.js';

/** The counter exports of the core (assembly/counters.ts), as this module reads them. */
export type CellExports = CellOps;

/**
 * The Wasm twin: the hot operations are the module's exports themselves, with no JS
 * wrapper in between, so a Counter's `inc()` is one property load and one call into Wasm.
 */
export function wasmCellOps(x: CellExports): CellOps {
  return {
    sharedInc: x.sharedInc,
    sharedAdd: x.sharedAdd,
    baseInc: x.baseInc,
    baseAdd: x.baseAdd,
    ownedInc: x.ownedInc,
    ownedAdd: x.ownedAdd,
    readShared: x.readShared,
    // An i64 result arrives as a signed BigInt; the cells are unsigned.
    readShared64: (cell) => BigInt.asUintN(64, x.readShared64(cell)),
    readStriped: x.readStriped,
    readStriped64: (a, b, c, d, e) => BigInt.asUintN(64, x.readStriped64(a, b, c, d, e)),
  };
}
