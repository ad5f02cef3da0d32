// The resilience limits' public surface (re-exported by src/index.ts) and their kinds (kind-table.ts lists them).
export { Bulkhead, type BulkheadCallOptions, type BulkheadMetrics, type BulkheadMetricsBigInt } from './bulkhead.js';
export type { BulkheadConfig, ResolvedBulkheadConfig } from './bulkhead-config.js';
export { bulkheadKind, listBulkheads, type BulkheadOptions } from './bulkhead-kind.js';
export { BulkheadFullError, RateLimitedError } from './errors.js';
export { RateLimiter, type AcquireOptions, type RateLimiterMetrics, type RateLimiterMetricsBigInt } from './rate-limiter.js';
export type { RateLimiterConfig, ResolvedRateLimiterConfig } from './rate-limiter-config.js';
export { rateLimiterKind, listRateLimiters, type RateLimiterOptions } from './rate-limiter-kind.js';
