export { StatsRegistry } from './registry.js';
export type { RegistryOptions, AttachOptions, RegistryHandle, SharedWasmMemory, CounterSetOptions, RegistryEntry, RegistryUsage, UserMetric, CollectOption } from './registry.js';
export { CounterSet } from './sets/counter-set.js';
export type { Counter } from './sets/counter-set.js';
export type { BackendKind } from './backend.js';
export {
  AtomicStatsError,
  InvalidCountError,
  UnknownFieldError,
  NameConflictError,
  RegistryFullError,
  InvalidOptionsError,
  InvalidHandleError,
  CorruptRegistryError,
  UnsafeIntegerError,
  RegistryClosedError,
  type ErrorCode,
} from './errors.js';
export { CircuitBreaker, CircuitBreakerConfig, CircuitOpenError, CircuitState } from './breaker/index.js';
export type { CircuitBreakerMetrics, CircuitBreakerMetricsBigInt, CircuitBreakerOptions, ResolvedBreakerConfig, StateChange, Clock } from './breaker/index.js';
export type { CallOptions, SystemCircuitBreakerMetrics } from './breaker/index.js';
export { CallTimeoutError, type CallContext } from './policy/timeout.js';
export { Bulkhead, BulkheadFullError, RateLimitedError, RateLimiter } from './resilience/index.js';
export type { BulkheadCallOptions, BulkheadConfig, BulkheadMetrics, BulkheadMetricsBigInt, BulkheadOptions, ResolvedBulkheadConfig } from './resilience/index.js';
export type { AcquireOptions, RateLimiterConfig, RateLimiterMetrics, RateLimiterMetricsBigInt, RateLimiterOptions, ResolvedRateLimiterConfig } from './resilience/index.js';
export { StepExecutionStats, EventBusStats, WorkerSubscriberStats } from './stats/index.js';
export type { StatsOptions, StepStatsOptions } from './stats/index.js';
export type { StepExecutionStatsSnapshot, StepExecutionStatsBigIntSnapshot } from './stats/step-execution-stats.js';
export type { InProcessEventBusStats, InProcessEventBusBigIntStats, EventBusLiveCounts } from './stats/event-bus-stats.js';
export type { WorkerEventSubscriberStats, WorkerEventSubscriberBigIntStats } from './stats/worker-subscriber-stats.js';
export {
  InProcessEventBus,
  InProcessEventBusBuilder,
  BroadcastReceiver,
  createDomainEvent,
  InvalidPatternError,
  InvalidEventError,
  HandlerFailedError,
  ReceiverClosedError,
} from './bus/index.js';
export type {
  DomainEvent,
  DomainEventInit,
  EventMetadata,
  EventHandler,
  InProcessEventBusOptions,
  BusLogger,
  BroadcastReceiverHandle,
  HandlerFailureReason,
} from './bus/index.js';
export {
  WorkerEventSubscriber,
  SubscriberClosedError,
  CompletionSender,
  convertCompletion,
  DEFAULT_FAILURE_MESSAGE,
  CorrelationTimeoutError,
  CompletionConversionError,
  DuplicateCorrelationError,
} from './subscriber/index.js';
export type {
  WorkerEventSubscriberOptions,
  ResultListener,
  SubscriberLogger,
  StepExecutionCompletionEvent,
  StepExecutionResult,
  StepExecutionMetadata,
  StepExecutionError,
  PendingExecution,
  Correlation,
  CorrelatedStepResult,
} from './subscriber/index.js';
export { CounterMetric } from './kinds/counter.js';
export type { CounterConfiguration, CounterSeries } from './kinds/counter.js';
export { GaugeMetric } from './kinds/gauge.js';
export type { GaugeConfiguration, GaugeSeries } from './kinds/gauge.js';
export { HistogramMetric } from './kinds/histogram.js';
export type { HistogramConfiguration, HistogramSeries } from './kinds/histogram.js';
export { SummaryMetric, DEFAULT_PERCENTILES, SUMMARY_RELATIVE_ERROR } from './kinds/summary.js';
export type { SummaryConfiguration, SummarySeries } from './kinds/summary.js';
export type { MetricObject, MetricValue, MetricConfigurationBase, Labels, LabelValues } from './kinds/metric-base.js';
export { DEFAULT_MAX_SERIES } from './kinds/metric-base.js';
export { DEFAULT_BUCKETS, linearBuckets, exponentialBuckets } from './kinds/buckets.js';
export { nativeBuckets } from './kinds/native-buckets.js';
export { CardinalityLimitError, InvalidLabelsError, InvalidValueError, NotResettableError } from './kinds/errors.js';
export { sanitizeName } from './export/collect.js';
export { serveMetrics } from './serve/serve-metrics.js';
export type { MetricsServer, ServeMetricsOptions } from './serve/serve-metrics.js';
export { ServeMetricsError } from './serve/errors.js';
export { ThreadMonitor, ThreadMonitorError } from './threads/index.js';
export type { ThreadInfo, ThreadMonitorOptions, ThreadWatch, ThreadWatchOptions, StallListener } from './threads/index.js';
export type { Exemplar, MetricFamily, MetricSample, MetricType, HistogramValue, SummaryValue, CollectOptions } from './export/collect.js';
