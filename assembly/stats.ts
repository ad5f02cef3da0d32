/*
 * Record paths of the stats structs (src/stats/; their JS twin is src/ops/stats-js.ts):
 * each exported function is everything one record method does, so a record method costs
 * one call into Wasm however many cells it touches. The memory rules are those of
 * counters.ts, whose owned-cell functions these call (Binaryen inlines them): no static
 * data, no heap, no globals.
 *
 * Every function comes in two forms with the same signature (a, b, ...):
 *   ...Owned   this thread's own stripe of the struct: `a` is field 0's low word, `b`
 *              field 0's high word (field i: a + 4i, b + 8i). Plain loads and stores of
 *              the tagged low word, the rare carry through the high word: counters.ts
 *              explains why a racing reader always gets an exact value.
 *   ...Shared  the struct's shared cells: `a` is field 0's cell (field i: a + 8i); every
 *              update is an i64 atomic add and `b` is ignored. It is there so the host can
 *              hold either form in one field and call it the same way.
 *
 * The owned forms take only counts below 2^30 (counters.ts: that bound keeps a reader's
 * tag arithmetic exact); the host sends a record with a larger count to the shared form,
 * which changes nothing in the totals.
 *
 * The host lays the cells out; the only thing this file knows is each struct's field ORDER,
 * which must match the field lists in src/stats/fields.ts (tests record through every
 * path and check each field by name, on both backends, so a mismatch fails them).
 *
 * Parameters are i32 only: an i64 would reach JS as a BigInt allocated per call. Counts
 * that can exceed 2^32 come to the shared forms as (lo, hi) halves.
 */
import { ownedAdd, ownedInc } from './counters';

// Owned field i: low word at a + 4i, high word at b + 8i.
@inline
function inc(a: u32, b: u32, field: u32): void {
  ownedInc(a + (field << 2), b + (field << 3));
}

@inline
function add(a: u32, b: u32, field: u32, n: u32): void {
  ownedAdd(a + (field << 2), b + (field << 3), n);
}

// Shared field i: a + 8i.
@inline
function sinc(a: u32, field: u32): void {
  atomic.add<u64>(a + (field << 3), 1);
}

@inline
function sadd(a: u32, field: u32, v: u64): void {
  atomic.add<u64>(a + (field << 3), v);
}

// ---- StepExecutionStats: total_executed, total_succeeded, total_failed, total_execution_time_ms
const STEP_EXECUTED: u32 = 0;
const STEP_SUCCEEDED: u32 = 1;
const STEP_FAILED: u32 = 2;
const STEP_TIME: u32 = 3;

/** `ms` < 2^30. */
export function stepSuccessOwned(a: u32, b: u32, ms: u32, msHi: u32): void {
  inc(a, b, STEP_EXECUTED);
  inc(a, b, STEP_SUCCEEDED);
  if (ms != 0) add(a, b, STEP_TIME, ms);
}

export function stepSuccessShared(a: u32, b: u32, msLo: u32, msHi: u32): void {
  sinc(a, STEP_EXECUTED);
  sinc(a, STEP_SUCCEEDED);
  if ((msLo | msHi) != 0) sadd(a, STEP_TIME, (<u64>msHi << 32) | <u64>msLo);
}

export function stepFailureOwned(a: u32, b: u32): void {
  inc(a, b, STEP_EXECUTED);
  inc(a, b, STEP_FAILED);
}

export function stepFailureShared(a: u32, b: u32): void {
  sinc(a, STEP_EXECUTED);
  sinc(a, STEP_FAILED);
}

// ---- EventBusStats: total_events_dispatched, handler_dispatches, broadcast_dispatches,
//      handler_errors, broadcast_drops, broadcast_lagged_events, handler_sheds, then the
//      four outcome cells (publish_dropped, publish_handled_dropped, publish_broadcast,
//      publish_handled_broadcast: BUS_OUTCOME + the PUB_* flags), each of which a snapshot
//      folds into total, the handler dispatches and the broadcast dispatches or drops.
const BUS_TOTAL: u32 = 0;
const BUS_HANDLED: u32 = 1;
const BUS_BROADCAST: u32 = 2;
const BUS_ERRORS: u32 = 3;
const BUS_DROPS: u32 = 4;
const BUS_LAGGED: u32 = 5;
const BUS_OUTCOME: u32 = 7;

/** Flags of busPublish: what the publish did besides counting itself. */
const PUB_HANDLED: u32 = 1; // handlers were registered: one handler dispatch (+ `errors`)
const PUB_BROADCAST: u32 = 2; // at least one receiver was open: one broadcast dispatch; otherwise one drop

/** The handler step of a publish: one handler dispatch and `errors` failures. `errors` < 2^30. */
export function busHandlerStepOwned(a: u32, b: u32, errors: u32, errHi: u32): void {
  inc(a, b, BUS_HANDLED);
  if (errors != 0) add(a, b, BUS_ERRORS, errors);
}

export function busHandlerStepShared(a: u32, b: u32, errLo: u32, errHi: u32): void {
  sinc(a, BUS_HANDLED);
  if ((errLo | errHi) != 0) sadd(a, BUS_ERRORS, (<u64>errHi << 32) | <u64>errLo);
}

/**
 * One whole publish, once it has completed (its handlers settled), in one call: total += 1,
 * then the handler step when PUB_HANDLED is set, then one broadcast dispatch or one drop,
 * plus `lagged` events that receivers lost. `errors`, `lagged` < 2^30 (bounded by one bus's
 * handler and receiver counts).
 */
export function busPublishOwned(a: u32, b: u32, flags: u32, errors: u32, lagged: u32): void {
  inc(a, b, BUS_TOTAL);
  if (flags & PUB_HANDLED) {
    inc(a, b, BUS_HANDLED);
    if (errors != 0) add(a, b, BUS_ERRORS, errors);
  }
  inc(a, b, flags & PUB_BROADCAST ? BUS_BROADCAST : BUS_DROPS);
  if (lagged != 0) add(a, b, BUS_LAGGED, lagged);
}

// The shared form counts the publish itself (total, the handler dispatch, the broadcast
// dispatch or drop) with one add to its outcome cell, as the JS twin must (stats-js.ts:
// there a thread can be terminated between two atomic adds, and this keeps
// `total == dispatches + drops` whole); the errors and the lagged events follow.
export function busPublishShared(a: u32, b: u32, flags: u32, errors: u32, lagged: u32): void {
  sinc(a, BUS_OUTCOME + (flags & (PUB_HANDLED | PUB_BROADCAST)));
  if ((flags & PUB_HANDLED) && errors != 0) sadd(a, BUS_ERRORS, <u64>errors);
  if (lagged != 0) sadd(a, BUS_LAGGED, <u64>lagged);
}

// ---- WorkerSubscriberStats: completions_received, successful_completions, failed_completions,
//      conversion_errors, unmatched_correlations
const SUB_RECEIVED: u32 = 0;
const SUB_SUCCEEDED: u32 = 1;
const SUB_FAILED: u32 = 2;
const SUB_CONVERSION: u32 = 3;
const SUB_UNMATCHED: u32 = 4;

const DONE_SUCCESS: u32 = 1; // the completion reports success (else failure)
const DONE_CONVERSION_ERROR: u32 = 2; // it could not be converted to a step result
const DONE_UNMATCHED: u32 = 4; // it matched no pending execution

/** Everything one completion does to the stats, in one call. */
export function subCompletionOwned(a: u32, b: u32, flags: u32): void {
  inc(a, b, SUB_RECEIVED);
  inc(a, b, flags & DONE_SUCCESS ? SUB_SUCCEEDED : SUB_FAILED);
  if (flags & DONE_CONVERSION_ERROR) inc(a, b, SUB_CONVERSION);
  if (flags & DONE_UNMATCHED) inc(a, b, SUB_UNMATCHED);
}

export function subCompletionShared(a: u32, b: u32, flags: u32): void {
  sinc(a, SUB_RECEIVED);
  sinc(a, flags & DONE_SUCCESS ? SUB_SUCCEEDED : SUB_FAILED);
  if (flags & DONE_CONVERSION_ERROR) sinc(a, SUB_CONVERSION);
  if (flags & DONE_UNMATCHED) sinc(a, SUB_UNMATCHED);
}
