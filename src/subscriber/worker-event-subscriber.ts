import { type MessagePort, MessageChannel } from 'node:worker_threads';
import { isMessagePort } from '../brand.js';
import { InvalidOptionsError } from '../errors.js';
import { bool, checkIntIn, checkName, checkOptionsObject } from '../validate.js';
import { RegistryCore } from '../registry-core.js';
import { DONE_CONVERSION_ERROR, DONE_SUCCESS, DONE_UNMATCHED } from '../ops/stats.js';
import { workerSubscriberStatsKind } from '../stats/worker-subscriber-stats.js';
import type { WorkerEventSubscriberBigIntStats, WorkerEventSubscriberStats, WorkerSubscriberStats } from '../stats/worker-subscriber-stats.js';
import { checkLogger, checkReportOptions } from '../bus/options.js';
import { Reporter, safeErrorText } from '../bus/reporter.js';
import { asCompletion, convertRead, readSuccess } from './convert.js';
import { CompletionConversionError } from './errors.js';
import { PendingTable } from './correlation.js';
import { AtomicStatsError } from '../errors.js';
import type { Correlation, CorrelatedStepResult, PendingExecution, StepExecutionResult } from './types.js';

export interface SubscriberLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

export interface WorkerEventSubscriberOptions {
  registry: RegistryCore;
  /** Name of the stats entry; subscribers with the same name (any thread) share counters. */
  name: string;
  /** Reported as `worker_id` in snapshots and results; fixed for the subscriber's life. */
  workerId: string;
  /** Pending executions older than this are dropped (1..2,147,483,647 ms). Default 30,000. */
  correlationTimeoutMs?: number;
  /**
   * true (default): every converted completion is looked up among the pending executions
   * and one that matches none counts in `unmatched_correlations`. false: no lookup, no count
   * (for listeners that never register executions).
   */
  correlate?: boolean;
  /** Reports written per `reportIntervalMs` (0..1,000,000); the rest are counted and summarized. Default 10. */
  maxReportsPerInterval?: number;
  /** Length of a report window, in ms (1..2,147,483,647). Default 10,000. */
  reportIntervalMs?: number;
  /** false (default): reports carry the error's message; true: the Error itself, with its stack. */
  logStacks?: boolean;
  /** Receives conversion failures, expiries and listener errors. Default: one `console.warn` line per report. */
  logger?: SubscriberLogger;
}

export type ResultListener = (result: StepExecutionResult, correlation: Correlation | undefined) => void;

const KNOWN = ['registry', 'name', 'workerId', 'correlationTimeoutMs', 'correlate', 'logger', 'maxReportsPerInterval', 'reportIntervalMs', 'logStacks'];

class SubscriberClosedError extends AtomicStatsError {
  static override readonly code = 'ERR_SUBSCRIBER_CLOSED';
  declare readonly code: 'ERR_SUBSCRIBER_CLOSED';
  constructor() {
    super(SubscriberClosedError.code, 'the subscriber was closed');
  }
}

/**
 * Listens to step-completion events and turns them into step execution results
 * (docs/event-bus-and-subscriber.md). Completions come in through `handleCompletion()` in this thread, or from
 * other worker threads through ports (`createCompletionPort()` + `CompletionSender`, or
 * `listen(port)`).
 *
 * For every completion: `completions_received += 1` and `successful_completions` or
 * `failed_completions += 1`; then conversion (failure: `conversion_errors += 1`, the
 * listener goes on); then correlation with the pending executions (no match:
 * `unmatched_correlations += 1`). All of one completion's counts are one backend call.
 * A value that is not even an object with a boolean `success` cannot be classified as a
 * success or a failure: it counts only in `conversion_errors`, so that `received ==
 * successful + failed` always holds.
 *
 * The counters are shared by name (any thread); `worker_id` is this subscriber's.
 */
export class WorkerEventSubscriber {
  readonly name: string;
  readonly workerId: string;
  readonly correlationTimeoutMs: number;
  /** The shared counters this subscriber records into. */
  readonly stats: WorkerSubscriberStats;
  private readonly correlate: boolean;
  private readonly reporter: Reporter;
  private readonly pending: PendingTable;
  private listeners: ResultListener[] = [];
  private readonly ports = new Set<MessagePort>();
  private closed = false;

  constructor(options: WorkerEventSubscriberOptions) {
    const o = checkOptionsObject(options, KNOWN, 'options', { required: true, shape: 'must be an object with registry, name and workerId' });
    if (!(o.registry instanceof RegistryCore)) throw new InvalidOptionsError('registry', 'must be a StatsRegistry');
    if (typeof o.workerId !== 'string' || o.workerId.length === 0) throw new InvalidOptionsError('workerId', 'must be a non-empty string');
    const t = checkIntIn(o.correlationTimeoutMs ?? 30_000, 'correlationTimeoutMs', 1, 2 ** 31 - 1);
    const correlate = bool(o, 'correlate', true);
    const logger = checkLogger(o.logger);
    const limits = checkReportOptions(o);
    this.name = checkName(o.name);
    this.workerId = o.workerId;
    this.correlationTimeoutMs = t;
    this.correlate = correlate;
    this.reporter = new Reporter(logger, limits, 'completion', { subscriber: this.name, worker_id: o.workerId });
    this.stats = workerSubscriberStatsKind.open(o.registry, this.name);
    this.pending = new PendingTable(t, (id, info) =>
      this.log('atomic-stats: pending step execution timed out and was dropped', { correlation_id: id, ...info }),
    );
  }

  /** Calls `listener` with every converted completion (and its correlation, when it matched one). */
  onResult(listener: ResultListener): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', 'must be a function');
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Registers an execution whose completion will carry `correlationId` as its `event_id`.
   * It is dropped if no completion arrives within `correlationTimeoutMs`.
   */
  trackPendingExecution(correlationId: string, execution: { task_uuid: string; step_uuid: string; step_name: string }): void {
    this.addPending(correlationId, execution);
  }

  /**
   * Like trackPendingExecution, and resolves with the correlated result when the
   * completion arrives; rejects with CorrelationTimeoutError when it does not in time, or
   * CompletionConversionError when it arrives malformed.
   */
  expectCompletion(correlationId: string, execution: { task_uuid: string; step_uuid: string; step_name: string }): Promise<CorrelatedStepResult> {
    const entry = this.addPending(correlationId, execution);
    return new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
  }

  /** Executions registered and not yet completed or expired. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private addPending(correlationId: string, execution: { task_uuid: string; step_uuid: string; step_name: string }) {
    if (this.closed) throw new SubscriberClosedError();
    if (typeof correlationId !== 'string' || correlationId.length === 0) {
      throw new InvalidOptionsError('correlationId', 'must be a non-empty string');
    }
    if (execution === null || typeof execution !== 'object') throw new InvalidOptionsError('execution', 'must be an object');
    const info: PendingExecution = {
      task_uuid: String(execution.task_uuid),
      step_uuid: String(execution.step_uuid),
      step_name: String(execution.step_name),
      started_at: new Date().toISOString(),
    };
    return this.pending.add(correlationId, info);
  }

  /**
   * Processes one completion synchronously: counts it, converts it, correlates it, calls
   * the listeners. Returns the result, or undefined when the completion could not be
   * converted (counted in conversion_errors). Never throws for a bad completion: any
   * value — null, a number, an object whose getters throw, a revoked Proxy — is at worst
   * one conversion error. Each field is read once.
   */
  handleCompletion(completion: unknown): StepExecutionResult | undefined {
    const success = readSuccess(completion);
    if (success === undefined) {
      this.stats.recordConversionError();
      this.log('atomic-stats: completion event is not an object with a boolean success', { worker_id: this.workerId });
      return undefined;
    }
    const c = completion as object;
    let flags = success ? DONE_SUCCESS : 0;
    let result: StepExecutionResult;
    const seen: { eventId?: string } = {};
    try {
      result = convertRead(c, success, this.workerId, seen);
    } catch (err) {
      const e = err instanceof CompletionConversionError ? err : new CompletionConversionError(`reading it threw: ${safeErrorText(err)}`);
      this.stats.recordOutcome(flags | DONE_CONVERSION_ERROR);
      this.log('atomic-stats: failed to convert completion event to step result', { worker_id: this.workerId, error: e });
      // A caller awaiting this execution learns now rather than at the timeout.
      if (seen.eventId !== undefined) this.pending.take(seen.eventId)?.entry.reject?.(e);
      return undefined;
    }
    const eventId = seen.eventId!;
    let correlation: Correlation | undefined;
    let waiter: ((r: CorrelatedStepResult) => void) | undefined;
    if (this.correlate) {
      const hit = this.pending.take(eventId);
      if (hit === undefined) flags |= DONE_UNMATCHED;
      else {
        correlation = { correlation_id: eventId, pending_execution: hit.entry.info, execution_duration_ms: hit.elapsedMs };
        waiter = hit.entry.resolve;
      }
    }
    this.stats.recordOutcome(flags);
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(result, correlation);
      } catch (err) {
        this.log('atomic-stats: completion result listener threw', { worker_id: this.workerId, error: err });
      }
    }
    if (waiter !== undefined && correlation !== undefined) waiter({ ...correlation, result, completion_event: asCompletion(c) });
    return result;
  }

  /**
   * Feeds every message arriving on `port` to handleCompletion: a completion, or an array
   * of completions (what CompletionSender posts). The port is unref'd: listening never
   * keeps the process alive. Returns a function that stops listening (the port stays open).
   */
  listen(port: MessagePort): () => void {
    if (this.closed) throw new SubscriberClosedError();
    // A brand check, not a duck test: a Proxy of a port passes one, gets the listener, and
    // then throws a TypeError from unref().
    if (!isMessagePort(port)) {
      throw new InvalidOptionsError('port', 'must be a MessagePort (a Proxy of one is not accepted)');
    }
    const onMessage = (m: unknown): void => {
      if (Array.isArray(m)) for (const c of m) this.handleCompletion(c);
      else this.handleCompletion(m);
    };
    port.on('message', onMessage);
    port.unref();
    this.ports.add(port);
    return () => {
      port.off('message', onMessage);
      this.ports.delete(port);
    };
  }

  /**
   * A new port for completions from another thread: transfer it (`worker.postMessage(port,
   * [port])` or `workerData` + `transferList`) and wrap it there in a CompletionSender.
   */
  createCompletionPort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.listen(port1);
    return port2;
  }

  /**
   * Stops every port listener this subscriber started, drops pending executions, and
   * writes the summary of the reports the rate limit suppressed (stopping its timer).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reporter.flush();
    for (const p of this.ports) {
      p.removeAllListeners('message');
      p.close();
    }
    this.ports.clear();
    this.pending.clear(new SubscriberClosedError());
  }

  /** The snapshot DTO: counters shared by name (all threads), `worker_id` of this subscriber. */
  getStatistics(): WorkerEventSubscriberStats {
    return this.stats.snapshot(this.workerId);
  }

  /** The same with exact bigint counters. */
  getStatisticsBigInt(): WorkerEventSubscriberBigIntStats {
    return this.stats.snapshotBigInt(this.workerId);
  }

  // Rate-limited (see bus/reporter.ts). An Error in `details` becomes its message unless
  // logStacks is set; reading it must not throw (a listener may throw anything).
  private log(message: string, details: Record<string, unknown>): void {
    const rep = this.reporter;
    if (!rep.admit()) return;
    if ('error' in details && !rep.stacks) details.error = safeErrorText(details.error);
    rep.write(message, details);
  }
}

export { SubscriberClosedError };
