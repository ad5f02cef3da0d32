import { AtomicStatsError } from '../errors.js';

/** A pending execution whose completion did not arrive within `correlationTimeoutMs`. */
export class CorrelationTimeoutError extends AtomicStatsError {
  readonly correlationId: string;
  constructor(correlationId: string, timeoutMs: number) {
    super('ERR_CORRELATION_TIMEOUT', `no completion for pending execution ${correlationId} within ${timeoutMs} ms`);
    this.correlationId = correlationId;
  }
}

/** A completion that could not be converted to a step result (it was counted in conversion_errors). */
export class CompletionConversionError extends AtomicStatsError {
  constructor(reason: string) {
    super('ERR_COMPLETION_CONVERSION', `cannot convert completion event: ${reason}`);
  }
}

/** A correlation id registered twice while the first is still pending. */
export class DuplicateCorrelationError extends AtomicStatsError {
  readonly correlationId: string;
  constructor(correlationId: string) {
    super('ERR_DUPLICATE_CORRELATION', `correlation id ${correlationId} is already pending`);
    this.correlationId = correlationId;
  }
}
