import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  CompletionConversionError,
  CorrelationTimeoutError,
  DEFAULT_FAILURE_MESSAGE,
  DuplicateCorrelationError,
  InvalidOptionsError,
  StatsRegistry,
  WorkerEventSubscriber,
  convertCompletion,
  type StepExecutionCompletionEvent,
} from '../src/index.js';
import { recordingLogger } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

let n = 0;
function completion(over: Partial<StepExecutionCompletionEvent> & Record<string, unknown> = {}): StepExecutionCompletionEvent {
  n++;
  return {
    event_id: `evt-${n}`,
    task_uuid: `task-${n}`,
    step_uuid: `step-${n}`,
    success: true,
    result: { result: 'success' },
    metadata: { execution_time_ms: 150 },
    ...over,
  };
}

describe.each(BACKENDS)('WorkerEventSubscriber (%s backend)', (backend) => {
  const newSub = (extra: Record<string, unknown> = {}) =>
    new WorkerEventSubscriber({ registry: StatsRegistry.create({ backend }), name: 'subs', workerId: 'test_worker_123', logger: recordingLogger(), ...extra });

  describe('ported from the original', () => {
    it('creation keeps the worker id', () => {
      expect(newSub().workerId).toBe('test_worker_123');
    });

    it('completion event conversion (success)', () => {
      const c = completion({ result: { result: 'success' }, metadata: { execution_time_ms: 150 } });
      const r = convertCompletion(c, 'w');
      expect(r.step_uuid).toBe(c.step_uuid);
      expect(r.success).toBe(true);
      expect(r.metadata.execution_time_ms).toBe(150);
      expect(r.status).toBe('completed');
      expect(r.error).toBeNull();
      expect(r.result).toEqual({ result: 'success' });
    });

    it('failed completion event conversion', () => {
      const c = completion({ success: false, error_message: 'Step execution failed', metadata: { execution_time_ms: 75 } });
      const r = convertCompletion(c, 'w');
      expect(r.step_uuid).toBe(c.step_uuid);
      expect(r.success).toBe(false);
      expect(r.metadata.execution_time_ms).toBe(75);
      expect(r.error?.message).toBe('Step execution failed');
      expect(r.status).toBe('failed');
    });

    it('correlated completion listener tracks a pending execution', () => {
      const sub = newSub();
      sub.trackPendingExecution('corr-1', { task_uuid: 't', step_uuid: 's', step_name: 'test_step' });
      expect(sub.pendingCount).toBe(1);
    });

    it('subscriber statistics start at zero', () => {
      expect(newSub().getStatistics()).toEqual({
        worker_id: 'test_worker_123',
        completions_received: 0,
        successful_completions: 0,
        failed_completions: 0,
        conversion_errors: 0,
        unmatched_correlations: 0,
      });
    });
  });

  describe('conversion', () => {
    it('execution_time_ms is 0 when missing or not an integer', () => {
      for (const metadata of [undefined, null, {}, { execution_time_ms: 1.5 }, { execution_time_ms: '10' }, { execution_time_ms: 2 ** 53 }]) {
        expect(convertCompletion(completion({ metadata }), 'w').metadata.execution_time_ms).toBe(0);
      }
    });

    it('failures: default message, retryable from metadata (default true)', () => {
      const r = convertCompletion(completion({ success: false, metadata: null }), 'w');
      expect(r.error).toEqual({ message: DEFAULT_FAILURE_MESSAGE, retryable: true });
      expect(r.metadata.retryable).toBe(true);
      expect(convertCompletion(completion({ success: false, metadata: { retryable: false } }), 'w').error?.retryable).toBe(false);
      expect(convertCompletion(completion({ success: false, metadata: { retryable: 'no' } }), 'w').error?.retryable).toBe(true);
    });

    it('carries the metadata as custom and the worker id', () => {
      const r = convertCompletion(completion({ metadata: { execution_time_ms: 3, handler: 'X' } }), 'w-9');
      expect(r.metadata.custom).toEqual({ execution_time_ms: 3, handler: 'X' });
      expect(r.metadata.worker_id).toBe('w-9');
      expect(Number.isNaN(Date.parse(r.metadata.completed_at))).toBe(false);
    });

    it.each([
      ['metadata is an array', { metadata: [1] }],
      ['metadata is a string', { metadata: 'x' }],
      ['event_id missing', { event_id: undefined }],
      ['step_uuid empty', { step_uuid: '' }],
      ['task_uuid a number', { task_uuid: 5 }],
      ['error_message not a string', { success: false, error_message: 42 }],
    ])('%s -> CompletionConversionError', (_what, over) => {
      expect(() => convertCompletion(completion(over as never), 'w')).toThrow(CompletionConversionError);
    });
  });

  describe('listener', () => {
    it('counts received == successful + failed, and each converted result reaches the listeners', () => {
      const sub = newSub({ correlate: false });
      const seen: boolean[] = [];
      sub.onResult((r) => seen.push(r.success));
      sub.handleCompletion(completion());
      sub.handleCompletion(completion({ success: false }));
      sub.handleCompletion(completion());
      expect(seen).toEqual([true, false, true]);
      expect(sub.getStatistics()).toEqual({
        worker_id: 'test_worker_123',
        completions_received: 3,
        successful_completions: 2,
        failed_completions: 1,
        conversion_errors: 0,
        unmatched_correlations: 0,
      });
    });

    it('a malformed completion is a conversion error and the listener keeps going', () => {
      const logger = recordingLogger();
      const sub = newSub({ logger, correlate: false });
      const seen: string[] = [];
      sub.onResult((r) => seen.push(r.step_uuid));
      expect(sub.handleCompletion(completion({ metadata: [1] as never }))).toBeUndefined();
      expect(sub.handleCompletion(completion({ success: false, event_id: '' }))).toBeUndefined();
      // Not even classifiable as success or failure: only a conversion error.
      for (const bad of [null, 'done', 42, {}, { success: 'yes' }]) expect(sub.handleCompletion(bad)).toBeUndefined();
      const ok = completion();
      expect(sub.handleCompletion(ok)?.step_uuid).toBe(ok.step_uuid);
      expect(seen).toEqual([ok.step_uuid]);
      const s = sub.getStatistics();
      expect(s).toMatchObject({ completions_received: 3, successful_completions: 2, failed_completions: 1, conversion_errors: 7 });
      expect(s.completions_received).toBe(s.successful_completions + s.failed_completions);
      expect(logger.calls).toHaveLength(7);
    });

    it('a listener that throws does not stop the others or the counting', () => {
      const sub = newSub({ correlate: false });
      let reached = 0;
      sub.onResult(() => {
        throw new Error('listener bug');
      });
      const off = sub.onResult(() => void reached++);
      sub.handleCompletion(completion());
      off();
      sub.handleCompletion(completion());
      expect(reached).toBe(1);
      expect(sub.getStatistics().completions_received).toBe(2);
    });
  });

  describe('correlation', () => {
    it('a matching completion removes the pending entry and reports the elapsed time', async () => {
      const sub = newSub();
      const c = completion();
      const p = sub.expectCompletion(c.event_id, { task_uuid: c.task_uuid, step_uuid: c.step_uuid, step_name: 'charge' });
      const seen: unknown[] = [];
      sub.onResult((_r, corr) => seen.push(corr?.pending_execution.step_name));
      sub.handleCompletion(c);
      const r = await p;
      expect(r.correlation_id).toBe(c.event_id);
      expect(r.pending_execution).toMatchObject({ task_uuid: c.task_uuid, step_uuid: c.step_uuid, step_name: 'charge' });
      expect(Number.isInteger(r.execution_duration_ms) && r.execution_duration_ms >= 0).toBe(true);
      expect(r.result.step_uuid).toBe(c.step_uuid);
      expect(r.completion_event).toBe(c);
      expect(seen).toEqual(['charge']);
      expect(sub.pendingCount).toBe(0);
      expect(sub.getStatistics().unmatched_correlations).toBe(0);
    });

    it('a completion that matches nothing counts in unmatched_correlations (unless correlate is false)', () => {
      const sub = newSub();
      sub.trackPendingExecution('someone-else', { task_uuid: 't', step_uuid: 's', step_name: 'x' });
      sub.handleCompletion(completion());
      sub.handleCompletion(completion());
      expect(sub.getStatistics().unmatched_correlations).toBe(2);
      expect(sub.pendingCount).toBe(1);
      const quiet = newSub({ correlate: false });
      quiet.handleCompletion(completion());
      expect(quiet.getStatistics().unmatched_correlations).toBe(0);
    });

    it('pending entries older than the timeout are dropped; a late completion is then unmatched', async () => {
      const logger = recordingLogger();
      const sub = newSub({ correlationTimeoutMs: 10, logger });
      const c = completion();
      const p = sub.expectCompletion(c.event_id, { task_uuid: 't', step_uuid: 's', step_name: 'slow' });
      sub.trackPendingExecution('other', { task_uuid: 't', step_uuid: 's', step_name: 'other' });
      await expect(p).rejects.toBeInstanceOf(CorrelationTimeoutError);
      while (sub.pendingCount > 0) await new Promise((r) => setTimeout(r, 5));
      expect(logger.calls.filter((x) => x.message.includes('timed out'))).toHaveLength(2);
      sub.handleCompletion(c);
      expect(sub.getStatistics().unmatched_correlations).toBe(1);
    });

    it('a malformed completion for a pending execution rejects its promise at once', async () => {
      const sub = newSub();
      const c = completion({ metadata: 'broken' as never });
      const p = sub.expectCompletion(c.event_id, { task_uuid: 't', step_uuid: 's', step_name: 'x' });
      sub.handleCompletion(c);
      await expect(p).rejects.toBeInstanceOf(CompletionConversionError);
      expect(sub.getStatistics()).toMatchObject({ conversion_errors: 1, unmatched_correlations: 0, completions_received: 1 });
    });

    it('registering an id twice, or a bad id, is an error and changes nothing', () => {
      const sub = newSub();
      sub.trackPendingExecution('dup', { task_uuid: 't', step_uuid: 's', step_name: 'x' });
      expect(() => sub.trackPendingExecution('dup', { task_uuid: 't', step_uuid: 's', step_name: 'x' })).toThrow(DuplicateCorrelationError);
      expect(() => sub.trackPendingExecution('', { task_uuid: 't', step_uuid: 's', step_name: 'x' })).toThrow(InvalidOptionsError);
      expect(sub.pendingCount).toBe(1);
    });

    it('close() rejects pending expectations and stops listening', async () => {
      const sub = newSub();
      const p = sub.expectCompletion('c', { task_uuid: 't', step_uuid: 's', step_name: 'x' });
      sub.close();
      await expect(p).rejects.toThrow(/closed/);
      expect(() => sub.createCompletionPort()).toThrow(/closed/);
    });
  });

  it('completions sent from another worker thread arrive, are converted and correlated', async () => {
    const sub = newSub();
    const good = completion({ success: false, error_message: 'nope', metadata: { execution_time_ms: 9, retryable: false } });
    const pending = sub.expectCompletion(good.event_id, { task_uuid: good.task_uuid, step_uuid: good.step_uuid, step_name: 'remote' });
    const port = sub.createCompletionPort();
    const w = new Worker(new URL('./workers/completion-producer.mjs', import.meta.url), {
      workerData: { port, completions: [good, { ...completion(), metadata: [0] }, completion()] },
      transferList: [port],
    });
    try {
      const r = await pending;
      expect(r.result).toMatchObject({ success: false, error: { message: 'nope', retryable: false }, metadata: { execution_time_ms: 9 } });
      expect(r.completion_event).toEqual(good);
      while (sub.getStatistics().completions_received < 3) await new Promise((res) => setTimeout(res, 5));
      expect(sub.getStatistics()).toMatchObject({
        completions_received: 3,
        successful_completions: 2,
        failed_completions: 1,
        conversion_errors: 1,
        unmatched_correlations: 1,
      });
    } finally {
      await w.terminate();
      sub.close();
    }
  });

  describe('invalid options', () => {
    const registry = StatsRegistry.create({ backend });
    it.each([
      ['workerId', ''],
      ['workerId', 3],
      ['name', ''],
      ['registry', null],
      ['correlationTimeoutMs', 0],
      ['correlationTimeoutMs', 1.5],
      ['correlate', 'yes'],
      ['logger', {}],
      ['timeout', 5],
    ])('%s = %j is an InvalidOptionsError naming the field', (field, value) => {
      let err: unknown;
      try {
        new WorkerEventSubscriber({ registry, name: 'x', workerId: 'w', [field]: value } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe(field);
    });
  });

  it('subscribers with one name share counters; worker_id is the asking one', () => {
    const r1 = StatsRegistry.create({ backend });
    const r2 = StatsRegistry.attach(r1.handle);
    const a = new WorkerEventSubscriber({ registry: r1, name: 'shared', workerId: 'a', correlate: false });
    const b = new WorkerEventSubscriber({ registry: r2, name: 'shared', workerId: 'b', correlate: false });
    a.handleCompletion(completion());
    b.handleCompletion(completion({ success: false }));
    expect(a.getStatistics()).toMatchObject({ worker_id: 'a', completions_received: 2, successful_completions: 1, failed_completions: 1 });
    expect(b.getStatistics()).toMatchObject({ worker_id: 'b', completions_received: 2 });
    expect(b.getStatisticsBigInt()).toMatchObject({ worker_id: 'b', completions_received: 2n });
  });
});
