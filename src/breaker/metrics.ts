/*
 * The snapshot DTO, `CircuitBreakerMetrics`, with fixed snake_case keys so that its JSON
 * stays stable for dashboards and API consumers.
 *
 * A snapshot reads the state word once (current_state, consecutive_failures and
 * half_open_calls all come from that one read, so they agree with each other) and then
 * each counter atomically, one after another: it is not a transaction, and a call
 * recorded meanwhile may be in some counters and not yet in others.
 */
import { UnsafeIntegerError } from '../errors.js';
import { C_TRIP, FAILURES_FIELD, type OutcomeField, PAYLOAD_SHIFT, SUCCESS_SHIFT, SMALL_MASK, STATE_CLOSED, STATE_HALF_OPEN, type CounterField, stateCodeOf } from '../ops/breaker-layout.js';
import { windowCounts } from '../ops/breaker-window.js';
import { type CircuitState, stateOfWord } from './state.js';

export interface CircuitBreakerMetrics {
  total_calls: number;
  success_count: number;
  failure_count: number;
  /** Failures in a row while Closed; while Open or HalfOpen, the count when it last opened from Closed. 0 after closing. */
  consecutive_failures: number;
  /** Successes recorded in the current half-open period (0 unless HalfOpen). */
  half_open_calls: number;
  total_duration_nanos: number;
  current_state: CircuitState;
  /** failure_count / total_calls, 0 when there were no calls. */
  failure_rate: number;
  /** success_count / total_calls, 0 when there were no calls. */
  success_rate: number;
  /** floor(total_duration_nanos / total_calls), over successes and failures alike; 0 when there were no calls. */
  average_duration_nanos: number;
  /** Calls refused a permit (Open, or HalfOpen with every probe slot taken). */
  rejected_calls: number;
  /** Transitions into Open (from Closed or HalfOpen, forced or not, probe leases run out included). */
  times_opened: number;
  /** Calls in the failure-rate window now (all threads; 0 when the rate policy is off). */
  window_calls: number;
  /** Failures in the failure-rate window now (0 when the rate policy is off). */
  window_failures: number;
  /** Calls that timed out (each also counted in failure_count). */
  timeout_calls: number;
  /** Calls whose fallback was taken (a refusal, a timeout or a failure). */
  fallback_calls: number;
  /** Calls aborted by their caller's signal after they were admitted. */
  aborted_calls: number;
  /** Whether the breaker is disabled (every call admitted): see `disable()`. */
  disabled: boolean;
}

/** The same snapshot with every count exact, as a bigint. */
export interface CircuitBreakerMetricsBigInt {
  total_calls: bigint;
  success_count: bigint;
  failure_count: bigint;
  consecutive_failures: bigint;
  half_open_calls: bigint;
  total_duration_nanos: bigint;
  current_state: CircuitState;
  failure_rate: number;
  success_rate: number;
  average_duration_nanos: bigint;
  rejected_calls: bigint;
  times_opened: bigint;
  window_calls: bigint;
  window_failures: bigint;
  timeout_calls: bigint;
  fallback_calls: bigint;
  aborted_calls: bigint;
  disabled: boolean;
}

/** What a snapshot derives from the state word and the control block. */
export interface WordView {
  /** The state word as read. */
  readonly raw: number;
  readonly state: CircuitState;
  readonly consecutiveFailures: number;
  readonly halfOpenCalls: number;
}

export function readWord(i32: Int32Array, ctl: number): WordView {
  const word = Atomics.load(i32, ctl >>> 2);
  const code = stateCodeOf(word);
  return {
    raw: word,
    state: stateOfWord(word),
    consecutiveFailures: code === STATE_CLOSED ? (word & FAILURES_FIELD) >>> PAYLOAD_SHIFT : Atomics.load(i32, (ctl + C_TRIP) >>> 2),
    halfOpenCalls: code === STATE_HALF_OPEN ? (word >>> SUCCESS_SHIFT) & SMALL_MASK : 0,
  };
}

/**
 * The rate window's counts at tick `now`, as the trip decision would count them (with the
 * floor of the Closed word `word`; no floor in another state: the window then shows what
 * it held when the breaker left Closed, until its slices age out).
 */
export function readWindow(i64: BigInt64Array, ctl: number, windowMs: number, now: number, word: number): { calls: number; failures: number } {
  return windowCounts(i64, ctl, now, windowMs, stateCodeOf(word) === STATE_CLOSED ? word : 0);
}

export function buildMetricsBigInt(
  w: WordView,
  c: Record<CounterField, bigint>,
  window: { calls: number; failures: number } | undefined,
  o: Record<OutcomeField, bigint>,
  disabled: boolean,
): CircuitBreakerMetricsBigInt {
  const calls = c.total_calls;
  return {
    total_calls: calls,
    success_count: c.success_count,
    failure_count: c.failure_count,
    consecutive_failures: BigInt(w.consecutiveFailures),
    half_open_calls: BigInt(w.halfOpenCalls),
    total_duration_nanos: c.total_duration_nanos,
    current_state: w.state,
    failure_rate: calls === 0n ? 0 : Number(c.failure_count) / Number(calls),
    success_rate: calls === 0n ? 0 : Number(c.success_count) / Number(calls),
    average_duration_nanos: calls === 0n ? 0n : c.total_duration_nanos / calls,
    rejected_calls: c.rejected_calls,
    times_opened: c.times_opened,
    window_calls: BigInt(window?.calls ?? 0),
    window_failures: BigInt(window?.failures ?? 0),
    timeout_calls: o.timeout_calls,
    fallback_calls: o.fallback_calls,
    aborted_calls: o.aborted_calls,
    disabled,
  };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The number DTO. Any count above 2^53 - 1 throws UnsafeIntegerError naming the breaker
 * and the field instead of being rounded; `metricsBigInt()` is exact.
 */
export function toNumberMetrics(breakerName: string, m: CircuitBreakerMetricsBigInt): CircuitBreakerMetrics {
  const n = (field: string, v: bigint): number => {
    if (v > MAX_SAFE) throw new UnsafeIntegerError(breakerName, field);
    return Number(v);
  };
  return {
    total_calls: n('total_calls', m.total_calls),
    success_count: n('success_count', m.success_count),
    failure_count: n('failure_count', m.failure_count),
    consecutive_failures: Number(m.consecutive_failures),
    half_open_calls: Number(m.half_open_calls),
    total_duration_nanos: n('total_duration_nanos', m.total_duration_nanos),
    current_state: m.current_state,
    failure_rate: m.failure_rate,
    success_rate: m.success_rate,
    average_duration_nanos: Number(m.average_duration_nanos),
    rejected_calls: n('rejected_calls', m.rejected_calls),
    times_opened: n('times_opened', m.times_opened),
    window_calls: n('window_calls', m.window_calls),
    window_failures: n('window_failures', m.window_failures),
    timeout_calls: n('timeout_calls', m.timeout_calls),
    fallback_calls: n('fallback_calls', m.fallback_calls),
    aborted_calls: n('aborted_calls', m.aborted_calls),
    disabled: m.disabled,
  };
}
