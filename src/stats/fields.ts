/*
 * Field lists of the stats structs, in cell order. assembly/stats.ts and kernels.ts address
 * the cells by these positions (field i: owned low word a + 4i and high word b + 8i, shared
 * cell a + 8i; see kernels.ts), so these files change
 * together; test/step-stats.test.ts and test/bus-stats.test.ts record through every path
 * and read each field back by name, on both backends, which catches a mismatch.
 */
export const STEP_FIELDS = ['total_executed', 'total_succeeded', 'total_failed', 'total_execution_time_ms'] as const;
export type StepField = (typeof STEP_FIELDS)[number];

export const BUS_FIELDS = [
  'total_events_dispatched',
  'rust_handler_dispatches',
  'ffi_channel_dispatches',
  'rust_handler_errors',
  'ffi_channel_drops',
  'ffi_channel_lagged',
  'rust_handler_shed',
] as const;
export type BusField = (typeof BUS_FIELDS)[number];

export const SUBSCRIBER_FIELDS = [
  'completions_received',
  'successful_completions',
  'failed_completions',
  'conversion_errors',
  'unmatched_correlations',
] as const;
export type SubscriberField = (typeof SUBSCRIBER_FIELDS)[number];

/** Flags of a whole-publish record (must equal PUB_* in assembly/stats.ts). */
export const PUB_RUST = 1;
export const PUB_FFI = 2;

/** Flags of a completion record (must equal DONE_* in assembly/stats.ts). */
export const DONE_SUCCESS = 1;
export const DONE_CONVERSION_ERROR = 2;
export const DONE_UNMATCHED = 4;
