/*
 * How the stats structs are exported: one row per exported family, each reading one
 * field of the struct (its counter set), with the family's name, help and unit next to
 * the fields they describe. export/collect.ts lists these collectors in its table.
 */
import { type EntryCollector, type Row, convert, counterViews, parseFields } from '../export/entry-collector.js';
import { BUS_DTO_FIELDS, BUS_FIELDS, type BusField, STEP_FIELDS, SUBSCRIBER_FIELDS, foldBusOutcomes } from './fields.js';

const STEP: readonly Row[] = [
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 2, conv: 'count', outcome: 'failure' },
  // Not `step_execution_duration_seconds_total`: that counter's OpenMetrics family name
  // would be the name of the step-duration histogram (durations: true), which then could
  // not be exported beside it. A total of seconds is `<what>_seconds_total`, like
  // process_cpu_seconds_total; the histogram keeps the conventional `_duration_seconds`.
  { name: 'step_execution_seconds_total', help: 'Summed execution time of successful steps.', unit: 's', field: 3, conv: 'ms' },
];
const BUS: readonly Row[] = [
  { name: 'event_bus_events_published_total', help: 'Events published.', unit: '{event}', field: 0, conv: 'count' },
  { name: 'event_bus_handler_dispatches_total', help: 'Publishes that ran the in-process handlers (at least one handler subscribed).', unit: '{event}', field: 1, conv: 'count' },
  { name: 'event_bus_broadcast_dispatches_total', help: 'Publishes delivered to at least one open broadcast receiver.', unit: '{event}', field: 2, conv: 'count' },
  { name: 'event_bus_handler_errors_total', help: 'Handler failures (throws, rejections, timeouts).', unit: '{error}', field: 3, conv: 'count' },
  { name: 'event_bus_broadcast_drops_total', help: 'Publishes with no open broadcast receiver.', unit: '{event}', field: 4, conv: 'count' },
  { name: 'event_bus_broadcast_lagged_events_total', help: 'Events lost by broadcast receivers that fell too far behind.', unit: '{event}', field: 5, conv: 'count' },
  { name: 'event_bus_handler_sheds_total', help: 'Handler calls left out because the bus already had maxPendingDispatches publishes awaiting handlers (also counted as handler errors).', unit: '{call}', field: 6, conv: 'count' },
];
const SUBSCRIBER: readonly Row[] = [
  { name: 'worker_subscriber_completions_received_total', help: 'Step completions received.', unit: '{completion}', field: 0, conv: 'count' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 2, conv: 'count', outcome: 'failure' },
  { name: 'worker_subscriber_conversion_errors_total', help: 'Completions that could not be converted to a step result.', unit: '{completion}', field: 3, conv: 'count' },
  { name: 'worker_subscriber_unmatched_completions_total', help: 'Completions that matched no pending execution.', unit: '{completion}', field: 4, conv: 'count' },
];
// The bus's outcome cells folded into the DTO's fields they stand for (stats/fields.ts);
// rows index the result in DTO order.
function foldBus(values: readonly bigint[]): readonly bigint[] {
  const raw = {} as Record<BusField, bigint>;
  BUS_FIELDS.forEach((f, i) => {
    raw[f] = values[i]!;
  });
  const dto = foldBusOutcomes(raw);
  return BUS_DTO_FIELDS.map((f) => dto[f]);
}

function structCollector(fields: readonly string[], rows: readonly Row[], fold?: (values: readonly bigint[]) => readonly bigint[]): EntryCollector {
  return {
    prepare(registry, prefix, record) {
      const stored = parseFields(record.descriptor);
      // The struct's own field list, exactly: anything else is not a struct this version reads.
      if (stored === undefined || stored.length !== fields.length || stored.some((f, i) => f !== fields[i])) return undefined;
      const counters = counterViews(registry, record, stored, record.descriptor.striped === true);
      if (counters === undefined) return undefined;
      const plain = Object.freeze({ name: record.name });
      const labels = rows.map((r) => (r.outcome === undefined ? plain : Object.freeze({ name: record.name, outcome: r.outcome })));
      const names = rows.map((r) => prefix + r.name);
      return (out) => {
        let values: readonly bigint[] = counters.map((k) => k.valueBigInt());
        if (fold !== undefined) values = fold(values);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          out.add(names[i]!, 'counter', r.help, r.unit, labels[i]!, convert(values[r.field]!, r.conv));
        }
      };
    },
  };
}

/** The stats structs' collectors, by kind name. */
export const STATS_COLLECTORS = {
  stepExecutionStats: structCollector(STEP_FIELDS, STEP),
  eventBusStats: structCollector(BUS_FIELDS, BUS, foldBus),
  workerSubscriberStats: structCollector(SUBSCRIBER_FIELDS, SUBSCRIBER),
} as const satisfies Record<string, EntryCollector>;
