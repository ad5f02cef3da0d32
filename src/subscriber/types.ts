/** A step-completion event, as a handler (possibly in another worker thread) reports it. */
export interface StepExecutionCompletionEvent {
  /** Also the correlation id of the execution it completes. */
  event_id: string;
  task_uuid: string;
  step_uuid: string;
  success: boolean;
  /** Any JSON value. */
  result: unknown;
  /** A JSON object when present: `execution_time_ms` (integer), `retryable` (boolean), anything else. */
  metadata?: Record<string, unknown> | null;
  error_message?: string | null;
  trace_id?: string | null;
  span_id?: string | null;
}

/** What a completion is converted to (snake_case keys). */
export interface StepExecutionResult {
  step_uuid: string;
  success: boolean;
  result: unknown;
  /** "completed" or "failed". */
  status: 'completed' | 'failed';
  metadata: StepExecutionMetadata;
  /** Present on failures, null on successes. */
  error: StepExecutionError | null;
}

export interface StepExecutionMetadata {
  /** From the completion's `metadata.execution_time_ms`; 0 when missing or not an integer. */
  execution_time_ms: number;
  /** Failures: `metadata.retryable` (default true). Successes: false. */
  retryable: boolean;
  /** ISO-8601, when the completion was converted. */
  completed_at: string;
  /** The converting subscriber's worker id. */
  worker_id: string;
  /** The completion's metadata object ({} when it had none). */
  custom: Record<string, unknown>;
}

export interface StepExecutionError {
  message: string;
  retryable: boolean;
}

/** An execution registered with `trackPendingExecution` / `expectCompletion`. */
export interface PendingExecution {
  task_uuid: string;
  step_uuid: string;
  step_name: string;
  /** ISO-8601, when it was registered. */
  started_at: string;
}

/** A completion matched to the pending execution registered under its `event_id`. */
export interface Correlation {
  correlation_id: string;
  pending_execution: PendingExecution;
  /** Milliseconds from registration to the completion's arrival (monotonic clock). */
  execution_duration_ms: number;
}

/** What `expectCompletion` resolves with. */
export interface CorrelatedStepResult extends Correlation {
  result: StepExecutionResult;
  completion_event: StepExecutionCompletionEvent;
}
