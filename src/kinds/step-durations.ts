/*
 * The built-in distribution of step execution times: step stats opened with
 * `durations: true` also observe each success's duration into one shared histogram,
 * atomic_stats_step_execution_duration_seconds{name="<stats name>"}, so p50/p99 across
 * every thread can be exported and queried. Opt-in, because it adds one histogram
 * observation (one more call into the core) to recordSuccess.
 */
import { InvalidOptionsError } from '../errors.js';
import { utf8 } from '../directory.js';
import { MAX_NAME_BYTES } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';
import { histogramKind } from './histogram.js';
import type { HistogramSeries } from './histogram.js';
import { seriesName } from './labels.js';

export const STEP_DURATION_HISTOGRAM = 'atomic_stats_step_execution_duration_seconds';

/** Throws InvalidOptionsError (before anything is created) if `statsName` cannot label a series of the histogram. */
export function checkStepDurationsName(statsName: string): void {
  if (utf8(seriesName(STEP_DURATION_HISTOGRAM, ['name'], [statsName])).length > MAX_NAME_BYTES) {
    throw new InvalidOptionsError('durations', `the stats name is too long to label a duration series (at most ${MAX_NAME_BYTES} UTF-8 bytes with the histogram's name)`);
  }
}

/** The histogram series of one step stats name, created on first use by any thread. */
export function stepDurationSeries(registry: RegistryCore, statsName: string): HistogramSeries {
  const h = histogramKind.open(
    registry,
    {
      name: STEP_DURATION_HISTOGRAM,
      help: 'Execution time of successful steps, in seconds (step stats opened with durations: true).',
      labelNames: ['name'],
      maxSeries: 100_000,
      builtin: true,
    },
    true,
  );
  return h.labels({ name: statsName });
}
