export { StatsRegistry } from './registry.js';
export type { RegistryOptions, AttachOptions, RegistryHandle, SharedWasmMemory, CounterSetOptions, RegistryEntry } from './registry.js';
export { CounterSet } from './counter-set.js';
export type { Counter } from './counter-set.js';
export type { BackendKind } from './backend.js';
export {
  AtomicStatsError,
  InvalidCountError,
  UnknownFieldError,
  NameConflictError,
  RegistryFullError,
  InvalidOptionsError,
  InvalidHandleError,
  UnsafeIntegerError,
} from './errors.js';
export { CircuitBreaker, CircuitBreakerConfig, CircuitOpenError, CircuitState } from './breaker/index.js';
export type { CircuitBreakerMetrics, CircuitBreakerMetricsBigInt, CircuitBreakerOptions, ResolvedBreakerConfig, StateChange, Clock } from './breaker/index.js';
