import { CompletionConversionError } from './errors.js';
import type { StepExecutionCompletionEvent, StepExecutionResult } from './types.js';

/** The failure message when a failed completion carries none (as the original). */
export const DEFAULT_FAILURE_MESSAGE = 'Step execution failed in FFI handler';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function id(c: Record<string, unknown>, key: string): string {
  const v = c[key];
  if (typeof v !== 'string' || v.length === 0) throw new CompletionConversionError(`${key} is missing or not a non-empty string`);
  return v;
}

/**
 * Converts a completion to a step result, or throws CompletionConversionError. Where the original panicked
 * (metadata that is not an object) or could not deserialize (missing ids), this throws,
 * and the caller counts a conversion error.
 */
export function convertCompletion(completion: unknown, workerId: string): StepExecutionResult {
  if (!isPlainObject(completion)) throw new CompletionConversionError('not an object');
  const c = completion;
  if (typeof c.success !== 'boolean') throw new CompletionConversionError('success is not a boolean');
  const stepUuid = id(c, 'step_uuid');
  id(c, 'event_id');
  id(c, 'task_uuid');
  const meta = c.metadata;
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) throw new CompletionConversionError('metadata is not an object');
  const m: Record<string, unknown> = meta ?? {};
  const err = c.error_message;
  if (err !== undefined && err !== null && typeof err !== 'string') throw new CompletionConversionError('error_message is not a string');
  const t = m.execution_time_ms;
  const executionTime = typeof t === 'number' && Number.isSafeInteger(t) ? t : 0;
  const success = c.success === true;
  const retryable = success ? false : typeof m.retryable === 'boolean' ? m.retryable : true;
  return {
    step_uuid: stepUuid,
    success,
    result: c.result === undefined ? null : c.result,
    status: success ? 'completed' : 'failed',
    metadata: {
      execution_time_ms: executionTime,
      retryable,
      completed_at: new Date().toISOString(),
      worker_id: workerId,
      custom: { ...m },
    },
    error: success ? null : { message: typeof err === 'string' ? err : DEFAULT_FAILURE_MESSAGE, retryable },
  };
}

export function asCompletion(c: Record<string, unknown>): StepExecutionCompletionEvent {
  return c as unknown as StepExecutionCompletionEvent;
}
