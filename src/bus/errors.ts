import { AtomicStatsError, describe } from '../errors.js';

/** A subscription pattern that cannot be used: empty, or not a string. */
export class InvalidPatternError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_PATTERN';
  declare readonly code: 'ERR_INVALID_PATTERN';
  readonly pattern: unknown;
  constructor(pattern: unknown, reason: string) {
    super(InvalidPatternError.code, `invalid event pattern ${describe(pattern)}: ${reason}`);
    this.pattern = pattern;
  }
}

/** A value given to `publish` that is not a domain event (not an object, no string `event_name`). */
export class InvalidEventError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_EVENT';
  declare readonly code: 'ERR_INVALID_EVENT';
  readonly value: unknown;
  constructor(value: unknown, reason: string) {
    super(InvalidEventError.code, `not a domain event (${describe(value)}): ${reason}`);
    this.value = value;
  }
}

/** A handler failure as it is reported to the logger: which pattern, which event, why. */
export class HandlerFailedError extends AtomicStatsError {
  static override readonly code = 'ERR_HANDLER_FAILED';
  declare readonly code: 'ERR_HANDLER_FAILED';
  readonly pattern: string;
  readonly eventName: string;
  override readonly cause: unknown;
  constructor(pattern: string, eventName: string, cause: unknown, timedOut: boolean) {
    super(
      'ERR_HANDLER_FAILED',
      timedOut
        ? `handler for pattern "${pattern}" did not settle on event "${eventName}" within dispatchTimeoutMs`
        : `handler for pattern "${pattern}" failed on event "${eventName}": ${cause instanceof Error ? cause.message : describe(cause)}`,
    );
    this.pattern = pattern;
    this.eventName = eventName;
    this.cause = cause;
  }
}

/** An operation on a broadcast receiver that is closed or was transferred to another thread. */
export class ReceiverClosedError extends AtomicStatsError {
  static override readonly code = 'ERR_RECEIVER_CLOSED';
  declare readonly code: 'ERR_RECEIVER_CLOSED';
  constructor(message: string) {
    super(ReceiverClosedError.code, message);
  }
}
