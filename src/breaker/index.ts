// The circuit breaker's public surface (re-exported by src/index.ts) and its kind (kind-table.ts lists it).
export { CircuitBreaker, type CallOptions } from './circuit-breaker.js';
export { CircuitBreakerConfig, type ResolvedBreakerConfig } from './config.js';
export { CircuitOpenError } from './errors.js';
export type { CircuitBreakerMetrics, CircuitBreakerMetricsBigInt } from './metrics.js';
export type { StateChange } from './notify.js';
export { circuitBreakerKind, type CircuitBreakerOptions } from './kind.js';
export { CircuitState } from './state.js';
export type { Clock } from '../clock.js';
export { forceAll, listCircuitBreakers, systemBreakerMetrics, type SystemCircuitBreakerMetrics } from './view.js';
