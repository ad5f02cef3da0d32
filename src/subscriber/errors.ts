import { AtomicStatsError } from '../errors.js';

/** A pending execution whose completion did not arrive within `correlationTimeoutMs`. */
export class CorrelationTimeoutError extends AtomicStatsError {
  static override readonly code = 'ERR_CORRELATION_TIMEOUT';
  declare readonly code: 'ERR_CORRELATION_TIMEOUT';
  readonly correlationId: string;
  constructor(correlationId: string, timeoutMs: number) {
    super(CorrelationTimeoutError.code, `no completion for pending execution ${correlationId} within ${timeoutMs} ms`);
    this.correlationId = correlationId;
  }
}

/** A completion that could not be converted to a step result (it was counted in conversion_errors). */
export class CompletionConversionError extends AtomicStatsError {
  static override readonly code = 'ERR_COMPLETION_CONVERSION';
  declare readonly code: 'ERR_COMPLETION_CONVERSION';
  constructor(reason: string) {
    super(CompletionConversionError.code, `cannot convert completion event: ${reason}`);
  }
}

/** A correlation id registered twice while the first is still pending. */
export class DuplicateCorrelationError extends AtomicStatsError {
  static override readonly code = 'ERR_DUPLICATE_CORRELATION';
  declare readonly code: 'ERR_DUPLICATE_CORRELATION';
  readonly correlationId: string;
  constructor(correlationId: string) {
    super(DuplicateCorrelationError.code, `correlation id ${correlationId} is already pending`);
    this.correlationId = correlationId;
  }
}
