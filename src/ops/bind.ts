import type { CellOps } from './backend.js';
import { jsCellOps } from './backend-js.js';
import type { CoreExports } from './wasm-module.js';

/**
 * The 'auto' backend: each operation from the implementation that is faster at it.
 *
 * - Owned stripes are written by one thread with a plain load and store (no atomic
 *   read-modify-write at all). In JS that is a couple of typed-array accesses that V8
 *   inlines into the caller; through Wasm it is the same two instructions plus a call
 *   across the boundary that V8 never inlines. So owned updates use the JS twin.
 * - Shared cells need a 64-bit atomic add. JS can only do that on a BigUint64Array, with
 *   a BigInt argument (an allocation unless V8 elides it) and a builtin call; the Wasm core
 *   does it with one `i64.atomic.rmw.add` on i32/f64 arguments. So shared updates, and
 *   the striped reads (a loop over every stripe), use the Wasm core.
 *
 * Both halves follow the same cell protocol (assembly/counters.ts), which is what lets
 * 'wasm' and 'js' threads share cells in the first place, so mixing them within one
 * thread is as safe as mixing them across threads.
 */
export function autoCellOps(x: CoreExports, memory: WebAssembly.Memory): CellOps {
  const js = jsCellOps(memory);
  return {
    kind: 'auto',
    sharedInc: x.sharedInc,
    sharedAdd: x.sharedAdd,
    ownedInc: (low, high) => js.ownedInc(low, high),
    ownedAdd: (low, high, n) => js.ownedAdd(low, high, n),
    readShared: x.readShared,
    // An i64 result arrives as a signed BigInt; the cells are unsigned.
    readShared64: (cell) => BigInt.asUintN(64, x.readShared64(cell)),
    readStriped: x.readStriped,
    readStriped64: (a, b, c, d, e) => BigInt.asUintN(64, x.readStriped64(a, b, c, d, e)),
  };
}
