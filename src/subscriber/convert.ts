import { safeErrorText } from '../bus/reporter.js';
import { CompletionConversionError } from './errors.js';
import type { StepExecutionCompletionEvent, StepExecutionResult } from './types.js';

/** The failure message when a failed completion carries none. */
export const DEFAULT_FAILURE_MESSAGE = 'Step execution failed in FFI handler';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function id(v: unknown, key: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new CompletionConversionError(`${key} is missing or not a non-empty string`);
  return v;
}

/**
 * A completion's `success`, or undefined when it has no boolean one — including when
 * reading it throws (a getter, a revoked Proxy). Never throws.
 */
export function readSuccess(completion: unknown): boolean | undefined {
  if (completion === null || typeof completion !== 'object') return undefined;
  try {
    const s = (completion as { success?: unknown }).success;
    return typeof s === 'boolean' ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The conversion proper, for a completion whose `success` was already read (so it is not
 * read twice). Every other field is read exactly once too, in a fixed order, so a getter
 * cannot pass a check and then answer something else. `seen.eventId` is set as soon as a
 * valid `event_id` was read, for a caller that must find the execution a failed
 * conversion belongs to. Throws CompletionConversionError, or whatever user code (a
 * getter, a Proxy trap) throws while the completion is read.
 * @internal
 */
export function convertRead(c: object, success: boolean, workerId: string, seen: { eventId?: string }): StepExecutionResult {
  if (Array.isArray(c)) throw new CompletionConversionError('not an object');
  const r = c as Record<string, unknown>;
  const rawEventId = r.event_id;
  if (typeof rawEventId === 'string' && rawEventId.length > 0) seen.eventId = rawEventId;
  const rawTask = r.task_uuid;
  const stepUuid = id(r.step_uuid, 'step_uuid');
  id(rawEventId, 'event_id');
  id(rawTask, 'task_uuid');
  const meta = r.metadata;
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) throw new CompletionConversionError('metadata is not an object');
  const err = r.error_message;
  if (err !== undefined && err !== null && typeof err !== 'string') throw new CompletionConversionError('error_message is not a string');
  const value = r.result;
  const m: Record<string, unknown> = meta ?? {};
  const t = m.execution_time_ms;
  const executionTime = typeof t === 'number' && Number.isSafeInteger(t) ? t : 0;
  const flag = m.retryable;
  const retryable = success ? false : typeof flag === 'boolean' ? flag : true;
  return {
    step_uuid: stepUuid,
    success,
    result: value === undefined ? null : value,
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

/**
 * Converts a completion to a step result, or throws CompletionConversionError (and
 * nothing else: a completion whose fields throw when read is a conversion error too).
 * Metadata that is not an object, or missing ids, throw here, and a subscriber counts a
 * conversion error.
 */
export function convertCompletion(completion: unknown, workerId: string): StepExecutionResult {
  let isObject: boolean;
  try {
    isObject = isPlainObject(completion);
  } catch {
    isObject = false; // a revoked Proxy
  }
  if (!isObject) throw new CompletionConversionError('not an object');
  const success = readSuccess(completion);
  if (success === undefined) throw new CompletionConversionError('success is not a boolean');
  try {
    return convertRead(completion as object, success, workerId, {});
  } catch (e) {
    if (e instanceof CompletionConversionError) throw e;
    throw new CompletionConversionError(`reading it threw: ${safeErrorText(e)}`);
  }
}

export function asCompletion(c: object): StepExecutionCompletionEvent {
  return c as unknown as StepExecutionCompletionEvent;
}
