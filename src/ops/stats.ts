/*
 * The multi-cell record paths of the stats structs, one function per record method, in
 * two implementations over the same cells: the Wasm exports of assembly/stats.ts
 * (stats-wasm.ts) and their pure-JS twins (stats-js.ts). Each comes in an "owned" form
 * (this thread's own stripe: plain loads and stores of tagged low words, see
 * assembly/counters.ts) and a "shared" form (64-bit atomic adds); both take the same
 * arguments (a, b, ...), so a struct keeps one kernel object and calls it without
 * branching on its placement:
 *   owned:  a = field 0's low word, b = field 0's high word (field i: a + 4i, b + 8i)
 *   shared: a = field 0's cell (field i: a + 8i), b unused.
 * Owned forms take counts below 2^30 only (OWNED_ADD_LIMIT); the structs send a record
 * with a larger count to the shared form. Field i is the i-th name of the struct's field
 * list (stats/fields.ts), which the twins address by these positions.
 */

export interface StatsKernels {
  stepSuccess(a: number, b: number, msLo: number, msHi: number): void;
  stepFailure(a: number, b: number): void;
  busHandlerStep(a: number, b: number, errLo: number, errHi: number): void;
  busPublish(a: number, b: number, flags: number, errors: number, lagged: number): void;
  subCompletion(a: number, b: number, flags: number): void;
}

/** This thread's kernels for a struct: one set for its owned stripe, one for the shared cells. */
export interface StatsOps {
  readonly owned: StatsKernels;
  readonly shared: StatsKernels;
}

/**
 * Flags of a whole-publish record (must equal PUB_* in assembly/stats.ts): PUB_HANDLED,
 * handlers were registered (one handler dispatch); PUB_BROADCAST, an open receiver got the
 * event (one broadcast dispatch; without it, one drop).
 */
export const PUB_HANDLED = 1;
export const PUB_BROADCAST = 2;

/** Flags of a completion record (must equal DONE_* in assembly/stats.ts). */
export const DONE_SUCCESS = 1;
export const DONE_CONVERSION_ERROR = 2;
export const DONE_UNMATCHED = 4;
