/*
 * The pure-JS twins of the stats structs' record paths (stats.ts has the contract): the
 * same protocol on the same cells as assembly/stats.ts (the shared ones call the counters'
 * CellOps, the owned ones inline only the protocol's plain-store fast path and hand a
 * record that carries to ownedRecordCarrying in cells-js.ts), so a JS thread and a Wasm
 * thread can record into one struct at the same time.
 */
import type { CellOps } from './cells.js';
import { ownedRecordCarrying } from './cells-js.js';
import { DONE_CONVERSION_ERROR, DONE_SUCCESS, DONE_UNMATCHED, PUB_BROADCAST, PUB_HANDLED, type StatsKernels, type StatsOps } from './stats.js';

// Field indexes (stats/fields.ts).
const STEP_SUCCEEDED = 1;
const STEP_FAILED = 2;
const STEP_TIME = 3;
const BUS_HANDLED = 1;
const BUS_ERRORS = 3;
const BUS_LAGGED = 5;
const BUS_OUTCOME = 7; // the first outcome cell (publish_dropped); + PUB_* flags
const SUB_SUCCEEDED = 1;
const SUB_FAILED = 2;
const SUB_CONVERSION = 3;
const SUB_UNMATCHED = 4;

/*
 * The common case of an owned update, a plain store of the low word with its tag kept,
 * is inlined here (the same two lines as cells-js.ts), so that a record is a few
 * typed-array accesses in the caller's own optimized code rather than a chain of calls.
 * Anything else (a carry into the high word) is handed to the core's CellOps, which
 * re-reads the word and does the whole protocol of assembly/counters.ts.
 *
 * The masks, field indexes and flags are written as literals, not as the named constants
 * above: the bundler turns module constants into `var`s, which V8 must reload (and, for
 * 0xff000000, unbox from a heap number) on every use, and that alone doubled the cost of
 * these few instructions. 0xffffff = the low 24 bits; -16777216 = 0xff000000 (the tag)
 * as an int32; field indexes as in stats/fields.ts, flags as in stats.ts.
 */
class JsOwnedKernels implements StatsKernels {
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  constructor(buffer: ArrayBufferLike) {
    this.u32 = new Uint32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }
  // The record paths below repeat an owned update's two lines (cells-js.ts) instead of calling a helper, for two reasons.
  // Speed: inside a large caller (InProcessEventBus.publish) TurboFan runs out of inlining
  // budget, and a real call per cell cost more than the cells themselves. And wholeness:
  // V8 acts on a termination request (worker.terminate()) at a function's entry and at a
  // loop's back edge, and nowhere in straight-line code, so a record that makes no call
  // between its first cell and its last is whole or absent in a thread terminated at any
  // instant, which keeps `executed == succeeded + failed` and `received == successful +
  // failed` exact for good once it is gone. A call between two cells (as stepFailure once
  // made, one inc() per cell) is a point where the thread can be stopped with half a
  // record written, in the interpreter and in any tier that did not inline the call.
  // A carry into a high word (once per 2^24 counts of a cell) needs a call, so each record
  // loads and sums every cell first, and only when none carries stores them; otherwise it
  // hands the whole record, before storing anything, to ownedRecordCarrying (cells-js.ts),
  // which is whole or absent too. (A record that stored its first cells and then called a
  // carry for a later one lost that later cell when the thread was stopped at the call:
  // one increment lost per thread terminated at such an instant.)
  stepSuccess(a: number, b: number, ms: number): void {
    const u = this.u32;
    const i = a >>> 2;
    const w0 = u[i]!; // total_executed
    const w1 = u[i + 1]!; // total_succeeded
    const w3 = u[i + 3]!; // total_execution_time_ms
    const t0 = (w0 & 0xffffff) + 1;
    const t1 = (w1 & 0xffffff) + 1;
    const t3 = (w3 & 0xffffff) + ms;
    // Each t is below 2^31, so the OR is at most 0xffffff exactly when every t is.
    if ((t0 | t1 | t3) <= 0xffffff) {
      u[i] = (w0 & -16777216) | t0;
      u[i + 1] = (w1 & -16777216) | t1;
      if (ms !== 0) u[i + 3] = (w3 & -16777216) | t3;
    } else ownedRecordCarrying(u, this.u64, a, b, [0, 1, 3], [1, 1, ms]);
  }
  stepFailure(a: number, b: number): void {
    const u = this.u32;
    const i = a >>> 2;
    const w0 = u[i]!; // total_executed
    const w2 = u[i + 2]!; // total_failed
    const t0 = (w0 & 0xffffff) + 1;
    const t2 = (w2 & 0xffffff) + 1;
    if ((t0 | t2) <= 0xffffff) {
      u[i] = (w0 & -16777216) | t0;
      u[i + 2] = (w2 & -16777216) | t2;
    } else ownedRecordCarrying(u, this.u64, a, b, [0, 2], [1, 1]);
  }
  // The bus's records below make no call at all unless a cell carries: a bus may record
  // at the very end of the stack (a chain of publishes from handlers that overflows it),
  // where every call can throw RangeError, and a record that stopped between two cells
  // would break `total == dispatches + drops` for good. A throw at the entry of the one
  // call that records a step (nothing counted yet), or of the carrying record (nothing
  // stored yet), is what the bus can handle.
  busHandlerStep(a: number, b: number, errors: number): void {
    const u = this.u32;
    const i = (a >>> 2) + 1; // handler_dispatches
    const w1 = u[i]!;
    const w3 = u[i + 2]!; // handler_errors
    const t1 = (w1 & 0xffffff) + 1;
    const t3 = (w3 & 0xffffff) + errors;
    if ((t1 | t3) <= 0xffffff) {
      u[i] = (w1 & -16777216) | t1;
      if (errors !== 0) u[i + 2] = (w3 & -16777216) | t3;
    } else ownedRecordCarrying(u, this.u64, a, b, [1, 3], [1, errors]);
  }
  busPublish(a: number, b: number, flags: number, errors: number, lagged: number): void {
    const u = this.u32;
    const i = a >>> 2;
    const handled = flags & 1; // PUB_HANDLED: handler_dispatches (+ handler_errors)
    const e = handled !== 0 ? errors : 0;
    const f = (flags & 2) !== 0 ? 2 : 4; // PUB_BROADCAST ? broadcast_dispatches : broadcast_drops
    const w0 = u[i]!; // total_events_dispatched
    const w1 = u[i + 1]!;
    const w3 = u[i + 3]!; // handler_errors
    const wf = u[i + f]!;
    const w5 = u[i + 5]!; // broadcast_lagged_events
    const t0 = (w0 & 0xffffff) + 1;
    const t1 = (w1 & 0xffffff) + handled;
    const t3 = (w3 & 0xffffff) + e;
    const tf = (wf & 0xffffff) + 1;
    const t5 = (w5 & 0xffffff) + lagged;
    if ((t0 | t1 | t3 | tf | t5) <= 0xffffff) {
      u[i] = (w0 & -16777216) | t0;
      if (handled !== 0) {
        u[i + 1] = (w1 & -16777216) | t1;
        if (e !== 0) u[i + 3] = (w3 & -16777216) | t3;
      }
      u[i + f] = (wf & -16777216) | tf;
      if (lagged !== 0) u[i + 5] = (w5 & -16777216) | t5;
    } else ownedRecordCarrying(u, this.u64, a, b, [0, 1, 3, f, 5], [1, handled, e, 1, lagged]);
  }
  subCompletion(a: number, b: number, flags: number): void {
    const u = this.u32;
    const i = a >>> 2;
    const f = (flags & 1) !== 0 ? 1 : 2; // DONE_SUCCESS ? successful : failed
    const conv = (flags & 2) >>> 1; // DONE_CONVERSION_ERROR: conversion_errors
    const unm = (flags & 4) >>> 2; // DONE_UNMATCHED: unmatched_correlations
    const w0 = u[i]!; // completions_received
    const wf = u[i + f]!;
    const w3 = u[i + 3]!;
    const w4 = u[i + 4]!;
    const t0 = (w0 & 0xffffff) + 1;
    const tf = (wf & 0xffffff) + 1;
    const t3 = (w3 & 0xffffff) + conv;
    const t4 = (w4 & 0xffffff) + unm;
    if ((t0 | tf | t3 | t4) <= 0xffffff) {
      u[i] = (w0 & -16777216) | t0;
      u[i + f] = (wf & -16777216) | tf;
      if (conv !== 0) u[i + 3] = (w3 & -16777216) | t3;
      if (unm !== 0) u[i + 4] = (w4 & -16777216) | t4;
    } else ownedRecordCarrying(u, this.u64, a, b, [0, f, 3, 4], [1, 1, conv, unm]);
  }
}

class JsSharedKernels implements StatsKernels {
  // The bus's records use the cells directly (the same Atomics.add as CellOps.sharedAdd),
  // so that, like JsOwnedKernels', they make no JS call between two cells (see there);
  // busPublish also counts the publish itself with one add (see there).
  private readonly u64: BigUint64Array;
  constructor(
    private readonly o: CellOps,
    buffer: ArrayBufferLike,
  ) {
    this.u64 = new BigUint64Array(buffer);
  }
  stepSuccess(a: number, _b: number, msLo: number, msHi: number): void {
    const o = this.o;
    o.sharedInc(a);
    o.sharedInc(a + STEP_SUCCEEDED * 8);
    if (msLo !== 0 || msHi !== 0) o.sharedAdd(a + STEP_TIME * 8, msLo, msHi);
  }
  stepFailure(a: number): void {
    this.o.sharedInc(a);
    this.o.sharedInc(a + STEP_FAILED * 8);
  }
  busHandlerStep(a: number, _b: number, errLo: number, errHi: number): void {
    const u = this.u64;
    const i = a >>> 3;
    Atomics.add(u, i + BUS_HANDLED, 1n);
    if (errLo !== 0 || errHi !== 0) Atomics.add(u, i + BUS_ERRORS, errHi === 0 ? BigInt(errLo) : (BigInt(errHi) << 32n) | BigInt(errLo));
  }
  // V8 can act on a termination on the way into any Atomics call (see src/directory.ts),
  // so a record of several adds can be cut between two of them. The publish itself (total,
  // the handler dispatch, the broadcast dispatch or drop) is therefore one add, to its
  // outcome cell (stats/fields.ts), which snapshots fold into those three counts: whatever
  // the instant a thread is terminated, `total == dispatches + drops` (and `==` the handler
  // dispatches when every publish has handlers) holds. Only its errors or lagged events,
  // added after, can be lost with it.
  busPublish(a: number, _b: number, flags: number, errors: number, lagged: number): void {
    const u = this.u64;
    const i = a >>> 3;
    Atomics.add(u, i + BUS_OUTCOME + (flags & (PUB_HANDLED | PUB_BROADCAST)), 1n);
    if ((flags & PUB_HANDLED) !== 0 && errors !== 0) Atomics.add(u, i + BUS_ERRORS, BigInt(errors));
    if (lagged !== 0) Atomics.add(u, i + BUS_LAGGED, BigInt(lagged));
  }
  subCompletion(a: number, _b: number, flags: number): void {
    const o = this.o;
    o.sharedInc(a);
    o.sharedInc(a + ((flags & DONE_SUCCESS) !== 0 ? SUB_SUCCEEDED : SUB_FAILED) * 8);
    if ((flags & DONE_CONVERSION_ERROR) !== 0) o.sharedInc(a + SUB_CONVERSION * 8);
    if ((flags & DONE_UNMATCHED) !== 0) o.sharedInc(a + SUB_UNMATCHED * 8);
  }
}

/** The JS twin over `buffer`, handing what its inline paths do not do to `cells`. */
export function jsStatsOps(cells: CellOps, buffer: ArrayBufferLike): StatsOps {
  return { owned: new JsOwnedKernels(buffer), shared: new JsSharedKernels(cells, buffer) };
}
