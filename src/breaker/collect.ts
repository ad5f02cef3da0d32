/*
 * How circuit breakers are exported: counters from the breaker's snapshot (one row per
 * family, each naming the metricsBigInt() key it reads), the Closed-state gauges, and the
 * state as one 0/1 series per state. The breaker's kind (kind.ts) makes its collector
 * here, handing over its `open`, which the collector reads each breaker through.
 */
import { AtomicStatsError } from '../errors.js';
import { type Conv, convert } from '../export/entry-collector.js';
import type { EntryCollector } from '../kind.js';
import type { RegistryCore } from '../registry-core.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerConfig } from './config.js';

interface BreakerRow {
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  readonly key: string;
  readonly conv: Conv;
  readonly outcome?: string;
}

// Breaker counters: the metricsBigInt() key each family reads.
const BREAKER: readonly BreakerRow[] = [
  { name: 'circuit_breaker_calls_total', help: 'Calls recorded, by outcome.', unit: '{call}', key: 'success_count', conv: 'count', outcome: 'success' },
  { name: 'circuit_breaker_calls_total', help: 'Calls recorded, by outcome.', unit: '{call}', key: 'failure_count', conv: 'count', outcome: 'failure' },
  { name: 'circuit_breaker_call_duration_seconds_total', help: 'Summed duration of recorded calls.', unit: 's', key: 'total_duration_nanos', conv: 'ns' },
  { name: 'circuit_breaker_rejected_calls_total', help: 'Calls refused by the breaker.', unit: '{call}', key: 'rejected_calls', conv: 'count' },
  { name: 'circuit_breaker_opens_total', help: 'Transitions to the open state.', unit: '{transition}', key: 'times_opened', conv: 'count' },
  { name: 'circuit_breaker_timeouts_total', help: 'Calls that timed out (each also a failure).', unit: '{call}', key: 'timeout_calls', conv: 'count' },
  { name: 'circuit_breaker_fallbacks_total', help: 'Calls whose fallback was taken.', unit: '{call}', key: 'fallback_calls', conv: 'count' },
  { name: 'circuit_breaker_aborted_calls_total', help: 'Admitted calls aborted by their caller.', unit: '{call}', key: 'aborted_calls', conv: 'count' },
];
const BREAKER_STATES = [
  ['Closed', 'closed'],
  ['Open', 'open'],
  ['HalfOpen', 'half_open'],
] as const;

/** The circuit breakers' collector, reading each breaker through `open` (the kind's). */
export function breakerCollector(open: (registry: RegistryCore, name: string, config: CircuitBreakerConfig) => CircuitBreaker): EntryCollector<RegistryCore> {
  return {
    prepare(registry, prefix, record) {
      let breaker: CircuitBreaker;
      try {
        // Opened with the config its record carries, whatever thread created it.
        breaker = open(registry, record.name, record.descriptor as never);
      } catch (e) {
        // A config no valid breaker has (InvalidOptionsError), or a record that changed
        // under us: the entry is corrupt, the scrape goes on.
        if (!(e instanceof AtomicStatsError)) throw e;
        registry.reportCorrupt(record, e);
        return undefined;
      }
      const plain = Object.freeze({ name: record.name });
      const labels = BREAKER.map((r) => (r.outcome === undefined ? plain : Object.freeze({ name: record.name, outcome: r.outcome })));
      const states = BREAKER_STATES.map(([, state]) => Object.freeze({ name: record.name, state }));
      return (out) => {
        const m = breaker.metricsBigInt() as unknown as Record<string, unknown>;
        for (let i = 0; i < BREAKER.length; i++) {
          const r = BREAKER[i]!;
          const v = m[r.key];
          // A key the breaker no longer reports is left out rather than exported as NaN.
          if (typeof v === 'bigint') out.add(prefix + r.name, 'counter', r.help, r.unit, labels[i]!, convert(v, r.conv));
        }
        out.add(`${prefix}circuit_breaker_consecutive_failures`, 'gauge', 'Failures in a row while closed.', '{call}', plain, Number(m.consecutive_failures as bigint), true);
        out.add(`${prefix}circuit_breaker_disabled`, 'gauge', 'Whether the breaker is disabled (1: every call admitted).', '1', plain, m.disabled === true ? 1 : 0, true);
        out.add(`${prefix}circuit_breaker_half_open_successes`, 'gauge', 'Successful probes in the current half-open period.', '{call}', plain, Number(m.half_open_calls as bigint), true);
        for (let i = 0; i < BREAKER_STATES.length; i++) {
          out.add(`${prefix}circuit_breaker_state`, 'gauge', 'Breaker state: 1 for the current state, 0 for the others.', '1', states[i]!, m.current_state === BREAKER_STATES[i]![0] ? 1 : 0, true);
        }
      };
    },
  };
}
