/*
 * What "healthy" means for a breaker, judged on one snapshot: Closed, and nothing in its
 * recent record says it is heading for Open. "Recent", because a lifetime failure rate
 * never forgets: a breaker that failed through an outage, opened, and has served
 * faultlessly since it closed would stay unhealthy for as long as its old failures
 * outweighed its new successes.
 *
 * What is recent depends on what the breaker keeps in shared memory:
 * - The current run of failures (consecutive_failures, reset by a success and by
 *   closing): healthy only while it is less than half the failureThreshold, i.e. less than
 *   half way to opening. With the default threshold of 5, two failures in a row are
 *   noise, three are a warning.
 * - With the failure-rate policy on, also the rate window (the last windowMs, every thread
 *   together, restarted when the breaker closes): healthy while it holds fewer than 10
 *   calls or fewer than 10% failures. The window is the only record of calls by time that
 *   every thread shares, so without the rate policy there is no recent rate to judge.
 */
import type { CircuitState } from './state.js';

/** The fields of a snapshot health is judged on (numbers or bigints). */
export interface HealthView {
  readonly current_state: CircuitState;
  readonly consecutive_failures: number | bigint;
  readonly window_calls: number | bigint;
  readonly window_failures: number | bigint;
}

/** The config fields health depends on. */
export interface HealthConfig {
  readonly failureThreshold: number;
  readonly failureRateThreshold: number | null;
}

/** Calls a window needs before its failure rate counts, and the rate that is unhealthy. */
const MIN_WINDOW_CALLS = 10;
const UNHEALTHY_RATE = 0.1;

export function isHealthySnapshot(m: HealthView, config: HealthConfig): boolean {
  if (m.current_state !== 'Closed') return false;
  if (2 * Number(m.consecutive_failures) >= config.failureThreshold) return false;
  if (config.failureRateThreshold === null) return true;
  const calls = Number(m.window_calls);
  return calls < MIN_WINDOW_CALLS || Number(m.window_failures) / calls < UNHEALTHY_RATE;
}
