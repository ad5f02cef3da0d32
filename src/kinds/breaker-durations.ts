/*
 * The built-in distribution of circuit-breaker call durations: a thread that opens a
 * breaker with `{ durations: true }` also observes each result it records (success or
 * failure, through `call`, `callSync` or the guard) into one shared histogram,
 * atomic_stats_circuit_breaker_call_latency_seconds{name="<breaker>"}, so p50/p99 across
 * every thread can be exported and queried. Opt-in and per thread, because it adds one
 * histogram observation (one more call into the core) to every record.
 *
 * Named "latency" rather than "duration": the breaker's summed-duration counter is
 * atomic_stats_circuit_breaker_call_duration_seconds_total, whose OpenMetrics family name
 * (without `_total`) a histogram of the same base name would collide with.
 */
import { InvalidOptionsError } from '../errors.js';
import { utf8 } from '../directory.js';
import { MAX_NAME_BYTES } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';
import { histogramKind } from './histogram.js';
import type { HistogramSeries } from './histogram.js';
import { seriesName } from './labels.js';

export const BREAKER_DURATION_HISTOGRAM = 'atomic_stats_circuit_breaker_call_latency_seconds';

/** Throws InvalidOptionsError (before anything is created) if `breakerName` cannot label a series of the histogram. */
export function checkBreakerDurationsName(breakerName: string): void {
  if (utf8(seriesName(BREAKER_DURATION_HISTOGRAM, ['name'], [breakerName])).length > MAX_NAME_BYTES) {
    throw new InvalidOptionsError('durations', `the breaker name is too long to label a duration series (at most ${MAX_NAME_BYTES} UTF-8 bytes with the histogram's name)`);
  }
}

/** The histogram series of one breaker, created on first use by any thread. */
export function breakerDurationSeries(registry: RegistryCore, breakerName: string): HistogramSeries {
  const h = histogramKind.open(
    registry,
    {
      name: BREAKER_DURATION_HISTOGRAM,
      help: 'Duration of the calls recorded by circuit breakers, in seconds (threads that opened the breaker with durations: true).',
      labelNames: ['name'],
      maxSeries: 100_000,
      builtin: true,
    },
    true,
  );
  return h.labels({ name: breakerName });
}
