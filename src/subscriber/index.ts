export { WorkerEventSubscriber, SubscriberClosedError } from './worker-event-subscriber.js';
export { CompletionSender } from './completion-sender.js';
export { convertCompletion, DEFAULT_FAILURE_MESSAGE } from './convert.js';
export { CorrelationTimeoutError, CompletionConversionError, DuplicateCorrelationError } from './errors.js';
export type { WorkerEventSubscriberOptions, ResultListener, SubscriberLogger } from './worker-event-subscriber.js';
export type {
  StepExecutionCompletionEvent,
  StepExecutionResult,
  StepExecutionMetadata,
  StepExecutionError,
  PendingExecution,
  Correlation,
  CorrelatedStepResult,
} from './types.js';
