/*
 * A circuit breaker's record data, and the encoding of its state word. This file and
 * assembly/breaker.ts are two halves of one contract: a 'wasm' thread and a 'js' thread
 * run the same state machine on the same bytes, so every constant here has its twin there
 * (the header comment of assembly/breaker.ts explains why the state lives in one word).
 *
 *   -512   the rate window, only when the failure-rate policy is on (breaker-window.ts and
 *          assembly/breaker-window.ts): the control block then starts 512 bytes in
 *   +0     control block, one 128-byte block of its own:
 *            +0 the state word (i32), read by every permit request
 *            +4 trip count: consecutive failures when the breaker last opened from Closed
 *            +8 disabled: nonzero while the breaker is disabled (breaker/outcomes.ts)
 *   +128   counters: a striped counter set of COUNTER_FIELDS (layout.ts setGeometry):
 *          the shared stripe (u64 cells, atomic adds), then one owned stripe per slot
 *          (u32 low words at +4i, u64 high words at +OWNED_HIGH_OFFSET+8i; the protocol
 *          is assembly/counters.ts's). A thread passes its owned stripe's address to the
 *          state machine, or 0 when it has none and adds to the shared stripe.
 *   then   outcome counters: a second, unstriped set of OUTCOME_FIELDS, which only the
 *          JavaScript call paths move (timeouts, fallbacks, aborts), so the Wasm core's
 *          fixed offsets into the first set stay as they are.
 *
 * The state word has a block to itself because it is read on every permit and written
 * only on a state change: counter updates from other threads would otherwise invalidate
 * its cache line on every call. A fresh record is all zero, which is Closed with no
 * failures and zero counters (and an empty window), so a record is usable the moment the
 * directory publishes it, before any thread has run its constructor.
 *
 * The word's payload per state (the why is in assembly/breaker.ts):
 *   Closed    bits 2..8 consecutive failures, bits 9..31 the rate window's floor
 *   Open      bits 2..31 opened_at (ticks modulo 2^30)
 *   HalfOpen  bits 2..7 probes admitted, 8..13 successes, 14..31 the period's stamp
 */
import { BLOCK, type SetGeometry, alignUp, setGeometry } from '../layout.js';
import { WINDOW_BYTES } from './breaker-window.js';

export const STATE_CLOSED = 0;
export const STATE_OPEN = 1;
export const STATE_HALF_OPEN = 2;
export const CODE_MASK = 3;

export const PAYLOAD_SHIFT = 2;
/** Ticks (ms of the shared clock) are kept modulo 2^30. */
export const TICK_MASK = 0x3fffffff;
/** An elapsed time within this many ticks below 2^30 is a clock read just behind the stamp. */
export const SKEW_TICKS = 1024;
export const FAILURE_ONE = 1 << PAYLOAD_SHIFT;
/** Consecutive failures in a Closed word (bits 2..8); bits 9..31 are the window floor. */
export const FAILURES_FIELD = 127 << PAYLOAD_SHIFT;
export const CLAIM_SHIFT = 2;
export const CLAIM_ONE = 1 << CLAIM_SHIFT;
export const SUCCESS_SHIFT = 8;
export const SUCCESS_ONE = 1 << SUCCESS_SHIFT;
export const SMALL_MASK = 63;
/** A HalfOpen word's period stamp (bits 14..31), in lease units of 2^s ms. */
export const STAMP_SHIFT = 14;
export const STAMP_MASK = 0x3ffff;
/** Lease units: the smallest 2^s ms with probeLeaseMs / 2^s <= 2^10. */
export const LEASE_UNITS_LOG2 = 10;

/** Byte offsets in the control block. */
export const C_WORD = 0;
export const C_TRIP = 4;
export const C_DISABLED = 8;
export const CONTROL_BYTES = BLOCK;

/** The counters, in cell order (assembly/breaker.ts addresses them as F_* = index * 8). */
export const COUNTER_FIELDS = [
  'total_calls',
  'success_count',
  'failure_count',
  'total_duration_nanos',
  'rejected_calls',
  'times_opened',
] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];
export const F_TOTAL_CALLS = 0;
export const F_SUCCESS = 1;
export const F_FAILURE = 2;
export const F_DURATION = 3;
export const F_REJECTED = 4;
export const F_TIMES_OPENED = 5;
/** The outcome counters, in cell order: moved by call()/callSync() in JavaScript only. */
export const OUTCOME_FIELDS = ['timeout_calls', 'fallback_calls', 'aborted_calls'] as const;
export type OutcomeField = (typeof OUTCOME_FIELDS)[number];

/** Offset of the high words in an owned stripe of the counters (checked in breakerGeometry). */
export const OWNED_HIGH_OFFSET = 24;

/** Results of the state-machine operations (same values in the Wasm exports). */
export const REJECTED = 0;
export const ADMITTED = 1;
export const NEED_CLOCK = 2;
/** Permits (acquire's answer when admitted): 1 from Closed, (stamp << 2) | 3 a probe. 0 = none. */
export const PERMIT_NONE = 0;
export const PERMIT_CLOSED = 1;
export const DONE = 0;
export const CHANGED = 1;
/** `now` argument meaning "the caller has not read the clock". */
export const NO_CLOCK = -1;

export interface BreakerGeometry {
  readonly counters: SetGeometry;
  /** Offset of the control block in the record's data (after the window, if any). */
  readonly controlOffset: number;
  readonly countersOffset: number;
  readonly outcomes: SetGeometry;
  readonly outcomesOffset: number;
  readonly dataBytes: number;
}

export function breakerGeometry(stripes: number, windowed: boolean): BreakerGeometry {
  const counters = setGeometry(COUNTER_FIELDS.length, true, stripes);
  // assembly/breaker.ts addresses owned cells with this constant.
  if (counters.highOffset !== OWNED_HIGH_OFFSET) throw new Error(`atomic-stats: breaker counter layout changed (high words at ${counters.highOffset})`);
  const controlOffset = windowed ? WINDOW_BYTES : 0;
  // Not striped: timeouts, fallbacks and aborts are rare next to calls, so one shared
  // cell each costs no contention worth a stripe per thread (and keeps the record small).
  const outcomes = setGeometry(OUTCOME_FIELDS.length, false, stripes);
  const countersOffset = controlOffset + CONTROL_BYTES;
  const outcomesOffset = countersOffset + counters.dataBytes;
  return { counters, controlOffset, countersOffset, outcomes, outcomesOffset, dataBytes: outcomesOffset + alignUp(outcomes.dataBytes, BLOCK) };
}

/** The state a word reads as: its code, with the unknown code 3 read as Open. */
export function stateCodeOf(word: number): number {
  const code = word & CODE_MASK;
  return code === 3 ? STATE_OPEN : code;
}
