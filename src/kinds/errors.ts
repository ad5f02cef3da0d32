import { AtomicStatsError, describe } from '../errors.js';

/** Creating one more labelled series would take a metric past its `maxSeries`; nothing was created. */
export class CardinalityLimitError extends AtomicStatsError {
  static override readonly code = 'ERR_CARDINALITY_LIMIT';
  declare readonly code: 'ERR_CARDINALITY_LIMIT';
  readonly metric: string;
  readonly maxSeries: number;
  constructor(metric: string, maxSeries: number) {
    super(
      CardinalityLimitError.code,
      `metric "${metric}" already has its maximum of ${maxSeries} label combinations; raise maxSeries or use fewer distinct label values`,
    );
    this.metric = metric;
    this.maxSeries = maxSeries;
  }
}

/** Labels that do not match a metric's label names (missing, extra, reserved) or a label value that is not a string or number. */
export class InvalidLabelsError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_LABELS';
  declare readonly code: 'ERR_INVALID_LABELS';
  readonly metric: string;
  constructor(metric: string, message: string) {
    super(InvalidLabelsError.code, `metric "${metric}": ${message}`);
    this.metric = metric;
  }
}

/**
 * reset() of an exported family that cannot be reset: one of the package's own families
 * (`atomic_stats_*`), which count the work of every thread and are no user's to zero.
 * Nothing was changed.
 */
export class NotResettableError extends AtomicStatsError {
  static override readonly code = 'ERR_NOT_RESETTABLE';
  declare readonly code: 'ERR_NOT_RESETTABLE';
  readonly family: string;
  constructor(family: string) {
    super(
      NotResettableError.code,
      `the family "${family}" is one of the package's own (it counts the work of every thread) and cannot be reset; reset the metrics you define (registry.resetMetrics(), metric.reset())`,
    );
    this.family = family;
  }
}

/** A gauge or histogram value (or a quantile) that is not a finite number. */
export class InvalidValueError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_VALUE';
  declare readonly code: 'ERR_INVALID_VALUE';
  readonly value: unknown;
  constructor(metric: string, value: unknown, reason: string) {
    super(InvalidValueError.code, `metric "${metric}": invalid value ${describe(value)}: ${reason}`);
    this.value = value;
  }
}
