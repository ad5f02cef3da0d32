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

// The same counts as prom-client-style metrics: a counter with a `type` label, and a
// histogram of step durations with a `step` label, so /metrics and the live view show
// labelled series and a p99 over every thread. Striped: every worker writes its own cells.
export const EVENTS_METRIC = 'demo_events_total';
export const STEP_DURATION_METRIC = 'demo_step_duration_seconds';
// The downstream answers in 1-5 ms, a refusal by the open breaker takes microseconds and a
// hung call ends at the 250 ms timeout: bounds from 0.5 ms to 1 s, finest where most
// steps fall, since a quantile is only as precise as the bucket that holds it.
export const STEP_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
// Thread health: every thread publishes its heap, event loop and heartbeat this often,
// and the main thread reports a thread whose heartbeat is STALL_MS past due.
export const THREAD_INTERVAL_MS = 200;
export const STALL_MS = 400;

/**
 * When worker-1 holds its event loop (a synchronous task, as a resize or a big JSON.parse
 * would), for a run of `durationMs`: a while after the start, for long enough to be
 * seen (1.5 s at least: the main thread, busy with the workers' completions, may itself
 * run no timer for most of a second on a loaded machine, and its watcher must get a look
 * in while the stall lasts), ending before the run does. None in a run too short for that.
 */
export function stallPlan(durationMs) {
  if (durationMs < 2500) return undefined;
  return { atMs: Math.min(2000, 0.2 * durationMs), forMs: Math.min(2500, Math.max(1500, 0.4 * durationMs)) };
}

// Step name -> the event type that asks for it (see worker.mjs).
export const STEPS = { charge_payment: 'payment.requested', book_shipment: 'shipment.requested' };

// Events that are steps: a handler calls the downstream for them and reports a completion.
export const STEP_PATTERN = '*.requested';

/** Opens (or creates) every shared entry, so a scrape sees them all from the start. */
export function openShared(registry) {
  return {
    breaker: registry.circuitBreaker(BREAKER_NAME, BREAKER_CONFIG),
    steps: registry.stepExecutionStats(STEP_STATS_NAME),
    byType: registry.counters(EVENT_TYPES_SET, EVENT_TYPE_FIELDS, { striped: true }),
    busStats: registry.eventBusStats(BUS_NAME),
    events: registry.counter({ name: EVENTS_METRIC, help: 'Domain events published by the workers, by event type.', labelNames: ['type'], striped: true }),
    stepDuration: registry.histogram({
      name: STEP_DURATION_METRIC,
      help: "Time a step took, from its handler's start to the downstream's answer or the breaker's refusal, by step.",
      labelNames: ['step'],
      buckets: STEP_BUCKETS,
      striped: true,
    }),
  };
}
