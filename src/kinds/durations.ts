/*
 * The built-in duration distributions: opt-in, per thread, each a shared histogram with
 * one series per entry (`name="<entry>"`), so p50/p99 across every thread can be exported
 * and queried:
 *   - step stats opened with `durations: true` observe each success's duration into
 *     atomic_stats_step_execution_duration_seconds (the steps' summed-time counter is
 *     atomic_stats_step_execution_seconds_total, so that the two never share a name);
 *   - a breaker opened with `{ durations: true }` observes each result the thread records
 *     (through `call`, `callSync` or the guard) into
 *     atomic_stats_circuit_breaker_call_latency_seconds. Named "latency" rather than
 *     "duration": the breaker's summed-duration counter is
 *     atomic_stats_circuit_breaker_call_duration_seconds_total.
 * A counter `x_total` and a histogram `x` cannot both be exported: on the wire the
 * counter's family is `x` (OpenMetrics, and OpenTelemetry, drop `_total`), which is the
 * histogram's name. test/export-families.test.ts checks every built-in name for this.
 * Opt-in, because each adds one histogram observation (one more call into the core) to
 * every record.
 */
import { InvalidOptionsError } from '../errors.js';
import { utf8 } from '../directory.js';
import { MAX_NAME_BYTES } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';
import { histogramKind } from './histogram.js';
import type { HistogramSeries } from './histogram.js';
import { seriesName } from './labels.js';

export interface DurationHistogram {
  readonly name: string;
  readonly help: string;
  /** What the `name` label names, for error messages. */
  readonly of: string;
}

export const STEP_DURATIONS: DurationHistogram = {
  name: 'atomic_stats_step_execution_duration_seconds',
  help: 'Execution time of successful steps, in seconds (step stats opened with durations: true).',
  of: 'stats name',
};

export const BREAKER_DURATIONS: DurationHistogram = {
  name: 'atomic_stats_circuit_breaker_call_latency_seconds',
  help: 'Duration of the calls recorded by circuit breakers, in seconds (threads that opened the breaker with durations: true).',
  of: 'breaker name',
};

/** Throws InvalidOptionsError (before anything is created) if `entryName` cannot label a series of `h`. */
export function checkDurationsName(h: DurationHistogram, entryName: string): void {
  if (utf8(seriesName(h.name, ['name'], [entryName])).length > MAX_NAME_BYTES) {
    throw new InvalidOptionsError('durations', `the ${h.of} is too long to label a duration series (at most ${MAX_NAME_BYTES} UTF-8 bytes with the histogram's name)`);
  }
}

/** The series of `entryName` in the histogram `h`, created on first use by any thread. */
export function durationSeries(registry: RegistryCore, h: DurationHistogram, entryName: string): HistogramSeries {
  return histogramKind
    .open(registry, { name: h.name, help: h.help, labelNames: ['name'], maxSeries: 100_000, builtin: true }, true)
    .labels({ name: entryName });
}
