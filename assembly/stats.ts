/*
 * Record paths of the stats structs (src/stats/): each exported function is everything one
 * record method does, so a record method costs one call into Wasm however many cells it
 * touches. The memory rules are those of counters.ts, whose owned-cell functions these
 * call (Binaryen inlines them): no static data, no heap, no globals.
 *
 * Every function comes in two forms with the same signature:
 *   ...Owned(seq, cells, ...)   `cells` is the struct's first cell in this thread's own
 *                               stripe and `seq` that stripe's sequence word: plain loads
 *                               and stores, the carry seqlocked (counters.ts explains why
 *                               a racing reader never sees a torn value);
 *   ...Shared(seq, cells, ...)  `cells` is the struct's first shared cell; every update is
 *                               an i64 atomic add and `seq` is ignored (it is there so the
 *                               host can hold either form in one field and call it the same
 *                               way).
 *
 * The host lays the cells out; the only thing this file knows is each struct's field ORDER,
 * which must match the field lists in src/stats/fields.ts (a test records through every
 * path and checks each field by name, on both backends, so a mismatch fails it).
 *
 * Parameters are i32 only: an i64 would reach JS as a BigInt allocated per call. Counts
 * that can exceed 2^32 come as (lo, hi) halves.
 */
import { ownedAdd, ownedInc } from './counters';

// ---- StepExecutionStats: total_executed, total_succeeded, total_failed, total_execution_time_ms
const STEP_EXECUTED: u32 = 0;
const STEP_SUCCEEDED: u32 = 8;
const STEP_FAILED: u32 = 16;
const STEP_TIME: u32 = 24;

export function stepSuccessOwned(seq: u32, cells: u32, msLo: u32, msHi: u32): void {
  ownedInc(seq, cells + STEP_EXECUTED);
  ownedInc(seq, cells + STEP_SUCCEEDED);
  if ((msLo | msHi) != 0) ownedAdd(seq, cells + STEP_TIME, msLo, msHi);
}

export function stepSuccessShared(seq: u32, cells: u32, msLo: u32, msHi: u32): void {
  atomic.add<u64>(cells + STEP_EXECUTED, 1);
  atomic.add<u64>(cells + STEP_SUCCEEDED, 1);
  if ((msLo | msHi) != 0) atomic.add<u64>(cells + STEP_TIME, (<u64>msHi << 32) | <u64>msLo);
}

export function stepFailureOwned(seq: u32, cells: u32): void {
  ownedInc(seq, cells + STEP_EXECUTED);
  ownedInc(seq, cells + STEP_FAILED);
}

export function stepFailureShared(seq: u32, cells: u32): void {
  atomic.add<u64>(cells + STEP_EXECUTED, 1);
  atomic.add<u64>(cells + STEP_FAILED, 1);
}

// ---- EventBusStats: total_events_dispatched, rust_handler_dispatches, ffi_channel_dispatches,
//      rust_handler_errors, ffi_channel_drops, ffi_channel_lagged
const BUS_TOTAL: u32 = 0;
const BUS_RUST: u32 = 8;
const BUS_FFI: u32 = 16;
const BUS_ERRORS: u32 = 24;
const BUS_DROPS: u32 = 32;
const BUS_LAGGED: u32 = 40;

/** Flags of busPublish: what the publish did besides counting itself. */
const PUB_RUST: u32 = 1; // handlers were registered: one rust dispatch (+ `errors`)
const PUB_FFI: u32 = 2; // at least one receiver was open: one ffi dispatch; otherwise one drop

export function busRustOwned(seq: u32, cells: u32, errLo: u32, errHi: u32): void {
  ownedInc(seq, cells + BUS_RUST);
  if ((errLo | errHi) != 0) ownedAdd(seq, cells + BUS_ERRORS, errLo, errHi);
}

export function busRustShared(seq: u32, cells: u32, errLo: u32, errHi: u32): void {
  atomic.add<u64>(cells + BUS_RUST, 1);
  if ((errLo | errHi) != 0) atomic.add<u64>(cells + BUS_ERRORS, (<u64>errHi << 32) | <u64>errLo);
}

/**
 * One publish whose steps all completed synchronously, in one call: total += 1, then the
 * handler step when PUB_RUST is set, then one ffi dispatch or one drop, plus `lagged`
 * events that receivers lost. `errors` and `lagged` are bounded by the handler and
 * receiver counts of one bus, far below 2^32.
 */
export function busPublishOwned(seq: u32, cells: u32, flags: u32, errors: u32, lagged: u32): void {
  ownedInc(seq, cells + BUS_TOTAL);
  if (flags & PUB_RUST) {
    ownedInc(seq, cells + BUS_RUST);
    if (errors != 0) ownedAdd(seq, cells + BUS_ERRORS, errors, 0);
  }
  ownedInc(seq, cells + (flags & PUB_FFI ? BUS_FFI : BUS_DROPS));
  if (lagged != 0) ownedAdd(seq, cells + BUS_LAGGED, lagged, 0);
}

export function busPublishShared(seq: u32, cells: u32, flags: u32, errors: u32, lagged: u32): void {
  atomic.add<u64>(cells + BUS_TOTAL, 1);
  if (flags & PUB_RUST) {
    atomic.add<u64>(cells + BUS_RUST, 1);
    if (errors != 0) atomic.add<u64>(cells + BUS_ERRORS, <u64>errors);
  }
  atomic.add<u64>(cells + (flags & PUB_FFI ? BUS_FFI : BUS_DROPS), 1);
  if (lagged != 0) atomic.add<u64>(cells + BUS_LAGGED, <u64>lagged);
}

/** The broadcast step of a publish completed later than its first step (async handlers). */
export function busFfiOwned(seq: u32, cells: u32, flags: u32, lagged: u32): void {
  ownedInc(seq, cells + (flags & PUB_FFI ? BUS_FFI : BUS_DROPS));
  if (lagged != 0) ownedAdd(seq, cells + BUS_LAGGED, lagged, 0);
}

export function busFfiShared(seq: u32, cells: u32, flags: u32, lagged: u32): void {
  atomic.add<u64>(cells + (flags & PUB_FFI ? BUS_FFI : BUS_DROPS), 1);
  if (lagged != 0) atomic.add<u64>(cells + BUS_LAGGED, <u64>lagged);
}

// ---- WorkerSubscriberStats: completions_received, successful_completions, failed_completions,
//      conversion_errors, unmatched_correlations
const SUB_RECEIVED: u32 = 0;
const SUB_SUCCEEDED: u32 = 8;
const SUB_FAILED: u32 = 16;
const SUB_CONVERSION: u32 = 24;
const SUB_UNMATCHED: u32 = 32;

const DONE_SUCCESS: u32 = 1; // the completion reports success (else failure)
const DONE_CONVERSION_ERROR: u32 = 2; // it could not be converted to a step result
const DONE_UNMATCHED: u32 = 4; // it matched no pending execution

/** Everything one completion does to the stats, in one call. */
export function subCompletionOwned(seq: u32, cells: u32, flags: u32): void {
  ownedInc(seq, cells + SUB_RECEIVED);
  ownedInc(seq, cells + (flags & DONE_SUCCESS ? SUB_SUCCEEDED : SUB_FAILED));
  if (flags & DONE_CONVERSION_ERROR) ownedInc(seq, cells + SUB_CONVERSION);
  if (flags & DONE_UNMATCHED) ownedInc(seq, cells + SUB_UNMATCHED);
}

export function subCompletionShared(seq: u32, cells: u32, flags: u32): void {
  atomic.add<u64>(cells + SUB_RECEIVED, 1);
  atomic.add<u64>(cells + (flags & DONE_SUCCESS ? SUB_SUCCEEDED : SUB_FAILED), 1);
  if (flags & DONE_CONVERSION_ERROR) atomic.add<u64>(cells + SUB_CONVERSION, 1);
  if (flags & DONE_UNMATCHED) atomic.add<u64>(cells + SUB_UNMATCHED, 1);
}
