import type { CellOps } from './backend.js';
import type { CoreExports } from './wasm-module.js';

/**
 * The Wasm backend: the hot operations are the module's exports themselves, with no JS
 * wrapper in between, so a Counter's `inc()` is one property load and one call into Wasm.
 */
export function wasmCellOps(x: CoreExports): CellOps {
  return {
    kind: 'wasm',
    sharedInc: x.sharedInc,
    sharedAdd: x.sharedAdd,
    ownedInc: x.ownedInc,
    ownedAdd: x.ownedAdd,
    readShared: x.readShared,
    // An i64 result arrives as a signed BigInt; the cells are unsigned.
    readShared64: (cell) => BigInt.asUintN(64, x.readShared64(cell)),
    readStriped: x.readStriped,
    readStriped64: (a, b, c, d, e) => BigInt.asUintN(64, x.readStriped64(a, b, c, d, e)),
  };
}
