import { STEP_DURATIONS, checkDurationsName, durationSeries } from '../kinds/durations.js';
import type { RegistryCore } from '../registry-core.js';
import { bool } from '../validate.js';
import { EventBusStats } from './event-bus-stats.js';
import { BUS_FIELDS, STEP_FIELDS, SUBSCRIBER_FIELDS } from './fields.js';
import { type StatsOptions, openStats } from './open.js';
import { StepExecutionStats } from './step-execution-stats.js';
import { WorkerSubscriberStats } from './worker-subscriber-stats.js';

export interface StepStatsOptions extends StatsOptions {
  /**
   * Also observe each recordSuccess duration, in seconds, into the shared histogram
   * atomic_stats_step_execution_duration_seconds{name} (p50/p99 across threads). Default
   * false; part of the definition, so every thread must open the name alike.
   */
  durations?: boolean;
}

const DURATION_OPTION = {
  keys: ['durations'],
  check(o: Record<string, unknown>): Record<string, unknown> {
    return bool(o, 'durations', false) ? { durations: true } : {};
  },
};

/** @internal The body of `StatsRegistry.stepExecutionStats`. */
export function openStepExecutionStats(registry: RegistryCore, name: string, options?: StepStatsOptions): StepExecutionStats {
  registry.checkOpen();
  const durations = options !== null && typeof options === 'object' && options.durations === true;
  if (durations && typeof name === 'string') checkDurationsName(STEP_DURATIONS, name);
  const stats = openStats(registry, 'stepExecutionStats', name, STEP_FIELDS, options, (p) => new StepExecutionStats(name, p), DURATION_OPTION);
  if (durations && !stats.observesDurations) stats.observeDurations(durationSeries(registry, STEP_DURATIONS, name));
  return stats;
}

/** @internal The body of `StatsRegistry.eventBusStats`; a bus opens its stats through it. */
export function openEventBusStats(registry: RegistryCore, name: string, options?: StatsOptions): EventBusStats {
  registry.checkOpen();
  return openStats(registry, 'eventBusStats', name, BUS_FIELDS, options, (p) => new EventBusStats(name, p));
}

/** @internal The body of `StatsRegistry.workerSubscriberStats`; a subscriber opens its stats through it. */
export function openWorkerSubscriberStats(registry: RegistryCore, name: string, options?: StatsOptions): WorkerSubscriberStats {
  registry.checkOpen();
  return openStats(registry, 'workerSubscriberStats', name, SUBSCRIBER_FIELDS, options, (p) => new WorkerSubscriberStats(name, p));
}

export { EventBusStats, StepExecutionStats, WorkerSubscriberStats };
export type { StatsOptions };
