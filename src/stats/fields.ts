/*
 * Field lists of the stats structs, in cell order. assembly/stats.ts and ops/stats-js.ts
 * address the cells by these positions (field i: owned low word a + 4i and high word b + 8i,
 * shared cell a + 8i; see ops/stats.ts), so these files change
 * together; test/step-stats.test.ts and test/bus-stats.test.ts record through every path
 * and read each field back by name, on both backends, which catches a mismatch.
 */
export const STEP_FIELDS = ['total_executed', 'total_succeeded', 'total_failed', 'total_execution_time_ms'] as const;
export type StepField = (typeof STEP_FIELDS)[number];

/*
 * The event bus's cells. The stored names are the package's own words; the snapshot DTO
 * reports the counts under its historical keys (EventBusStats.snapshotBigInt), which stay
 * as they are so that the JSON does not change.
 */
export const BUS_FIELDS = [
  'total_events_dispatched',
  'handler_dispatches',
  'broadcast_dispatches',
  'handler_errors',
  'broadcast_drops',
  'broadcast_lagged_events',
  'handler_sheds',
  // Outcome cells: one per kind of plain publish (no handler error, no receiver lag), at
  // index BUS_OUTCOME_FIRST + (PUB_HANDLED | PUB_BROADCAST flags). A plain publish adds 1
  // to one of them instead of 2 or 3 to the fields above, and a snapshot adds them back in
  // (EventBusStats.snapshotBigInt). They are not part of the DTO.
  'publish_dropped',
  'publish_handled_dropped',
  'publish_broadcast',
  'publish_handled_broadcast',
] as const;
export type BusField = (typeof BUS_FIELDS)[number];
/** Index of the first outcome cell in BUS_FIELDS. */
export const BUS_OUTCOME_FIRST = 7;
/** The fields that hold counts of the DTO (the outcome cells folded in), in DTO order. */
export const BUS_COUNT_FIELDS = BUS_FIELDS.slice(0, BUS_OUTCOME_FIRST) as readonly BusField[] as readonly BusCountField[];
export type BusCountField = (typeof BUS_FIELDS)[0 | 1 | 2 | 3 | 4 | 5 | 6];

/**
 * The counts from the raw cells (any thread's read of the whole field list): the outcome
 * cells folded into the fields a plain publish would have written. Sums wrap at 2^64 like
 * the cells.
 */
export function foldBusOutcomes(raw: Readonly<Record<BusField, bigint>>): Record<BusCountField, bigint> {
  const dropped = raw.publish_dropped;
  const handledDropped = raw.publish_handled_dropped;
  const broadcast = raw.publish_broadcast;
  const handledBroadcast = raw.publish_handled_broadcast;
  const w = (v: bigint) => BigInt.asUintN(64, v);
  return {
    total_events_dispatched: w(raw.total_events_dispatched + dropped + handledDropped + broadcast + handledBroadcast),
    handler_dispatches: w(raw.handler_dispatches + handledDropped + handledBroadcast),
    broadcast_dispatches: w(raw.broadcast_dispatches + broadcast + handledBroadcast),
    handler_errors: raw.handler_errors,
    broadcast_drops: w(raw.broadcast_drops + dropped + handledDropped),
    broadcast_lagged_events: raw.broadcast_lagged_events,
    handler_sheds: raw.handler_sheds,
  };
}

export const SUBSCRIBER_FIELDS = [
  'completions_received',
  'successful_completions',
  'failed_completions',
  'conversion_errors',
  'unmatched_correlations',
] as const;
export type SubscriberField = (typeof SUBSCRIBER_FIELDS)[number];

// The record flags (PUB_*, DONE_*) live with the record paths that take them, ops/stats.ts,
// and their users import them from there: not through a re-export here, which an unbundled
// module loader (a test runner's) reads through an extra accessor call, one that a publish
// recording at the very end of the stack cannot afford (see InProcessEventBus.publish).
