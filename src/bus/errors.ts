import { AtomicStatsError, describe } from '../errors.js';
import { safeErrorText } from './reporter.js';

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

/** Why a handler counted as failed: it threw or rejected, it did not settle in time, or it was shed. */
export type HandlerFailureReason = 'failed' | 'timeout' | 'shed';

/** A handler failure as it is reported to the logger: which pattern, which event, why. */
export class HandlerFailedError extends AtomicStatsError {
  static override readonly code = 'ERR_HANDLER_FAILED';
  declare readonly code: 'ERR_HANDLER_FAILED';
  readonly pattern: string;
  readonly eventName: string;
  readonly reason: HandlerFailureReason;
  override readonly cause: unknown;
  constructor(pattern: string, eventName: string, cause: unknown, reason: HandlerFailureReason) {
    super(
      'ERR_HANDLER_FAILED',
      reason === 'timeout'
        ? `handler for pattern "${pattern}" did not settle on event "${eventName}" within dispatchTimeoutMs`
        : reason === 'shed'
          ? `handler for pattern "${pattern}" was shed on event "${eventName}": maxPendingDispatches publishes are awaiting handlers`
          : `handler for pattern "${pattern}" failed on event "${eventName}": ${safeErrorText(cause)}`,
    );
    this.pattern = pattern;
    this.eventName = eventName;
    this.reason = reason;
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
