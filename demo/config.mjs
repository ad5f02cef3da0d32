// Names and configs every thread must agree on: the registry refuses a name reopened with
// another kind, field list or config (NameConflictError), so they live in one place.
import { CircuitBreakerConfig } from 'atomic-stats';

export const BUS_NAME = 'domain-events';
// The main thread's own bus (breaker transitions as domain events) gets its own stats
// name, so that the workers' bus totals are exactly the sum of what the workers published.
export const CONTROL_BUS_NAME = 'demo-control';
export const SUBSCRIBER_NAME = 'step-completions';
export const STEP_STATS_NAME = 'downstream-steps';
export const BREAKER_NAME = 'downstream';
// A short timeout, so the breaker goes Open -> HalfOpen -> Closed within a few seconds.
export const BREAKER_CONFIG = CircuitBreakerConfig.forExternalApi({ timeoutMs: 1000 });

// Striped: every worker bumps these on every event, each into its own stripe.
export const EVENT_TYPES_SET = 'events_by_type';
export const EVENT_TYPES = ['order.placed', 'payment.requested', 'shipment.requested', 'order.cancelled'];
export const typeField = (eventName) => eventName.replace('.', '_');
export const EVENT_TYPE_FIELDS = EVENT_TYPES.map(typeField);

// Events that are steps: a handler calls the downstream for them and reports a completion.
export const STEP_PATTERN = '*.requested';

/** Opens (or creates) every shared entry, so a scrape sees them all from the start. */
export function openShared(registry) {
  return {
    breaker: registry.circuitBreaker(BREAKER_NAME, BREAKER_CONFIG),
    steps: registry.stepExecutionStats(STEP_STATS_NAME),
    byType: registry.counters(EVENT_TYPES_SET, EVENT_TYPE_FIELDS, { striped: true }),
    busStats: registry.eventBusStats(BUS_NAME),
  };
}
