// The stats structs' public surface (re-exported by src/index.ts): each struct's class and
// its kind live in its own module.
export { EventBusStats } from './event-bus-stats.js';
export type { StatsOptions } from './open.js';
export { StepExecutionStats, type StepStatsOptions } from './step-execution-stats.js';
export { WorkerSubscriberStats } from './worker-subscriber-stats.js';
