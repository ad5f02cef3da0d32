import type { StatsRegistry } from '../registry.js';
import { EventBusStats } from './event-bus-stats.js';
import { BUS_FIELDS, STEP_FIELDS, SUBSCRIBER_FIELDS } from './fields.js';
import { type StatsOptions, openStats } from './open.js';
import { StepExecutionStats } from './step-execution-stats.js';
import { WorkerSubscriberStats } from './worker-subscriber-stats.js';

export function openStepExecutionStats(registry: StatsRegistry, name: string, options?: StatsOptions): StepExecutionStats {
  return openStats(registry, 'stepExecutionStats', name, STEP_FIELDS, options, (p) => new StepExecutionStats(name, p));
}

export function openEventBusStats(registry: StatsRegistry, name: string, options?: StatsOptions): EventBusStats {
  return openStats(registry, 'eventBusStats', name, BUS_FIELDS, options, (p) => new EventBusStats(name, p));
}

export function openWorkerSubscriberStats(registry: StatsRegistry, name: string, options?: StatsOptions): WorkerSubscriberStats {
  return openStats(registry, 'workerSubscriberStats', name, SUBSCRIBER_FIELDS, options, (p) => new WorkerSubscriberStats(name, p));
}

export { EventBusStats, StepExecutionStats, WorkerSubscriberStats };
export type { StatsOptions };
