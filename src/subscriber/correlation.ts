import { performance } from 'node:perf_hooks';
import { CorrelationTimeoutError, DuplicateCorrelationError } from './errors.js';
import type { CorrelatedStepResult, PendingExecution } from './types.js';

interface Entry {
  readonly info: PendingExecution;
  readonly startedAt: number; // performance.now(), for the duration
  readonly timer: ReturnType<typeof setTimeout>;
  resolve?: (r: CorrelatedStepResult) => void;
  reject?: (e: Error) => void;
}

/**
 * Executions waiting for their completion, by correlation id. Each entry has its own
 * timer, unref'd so that waiting never keeps the process alive; an entry older than the
 * timeout is dropped (and its `expectCompletion` promise rejects).
 */
export class PendingTable {
  private readonly entries = new Map<string, Entry>();
  constructor(
    private readonly timeoutMs: number,
    private readonly onExpired: (correlationId: string, info: PendingExecution) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(correlationId: string, info: PendingExecution): Entry {
    if (this.entries.has(correlationId)) throw new DuplicateCorrelationError(correlationId);
    const timer = setTimeout(() => this.expire(correlationId), this.timeoutMs);
    timer.unref();
    const entry: Entry = { info, startedAt: performance.now(), timer };
    this.entries.set(correlationId, entry);
    return entry;
  }

  /** Removes and returns the entry for `correlationId`, with the elapsed ms. */
  take(correlationId: string): { entry: Entry; elapsedMs: number } | undefined {
    const entry = this.entries.get(correlationId);
    if (entry === undefined) return undefined;
    this.entries.delete(correlationId);
    clearTimeout(entry.timer);
    return { entry, elapsedMs: Math.max(0, Math.round(performance.now() - entry.startedAt)) };
  }

  /** Drops every entry (rejecting their promises with `reason`). */
  clear(reason: Error): void {
    for (const [, e] of this.entries) {
      clearTimeout(e.timer);
      e.reject?.(reason);
    }
    this.entries.clear();
  }

  private expire(correlationId: string): void {
    const entry = this.entries.get(correlationId);
    if (entry === undefined) return;
    this.entries.delete(correlationId);
    entry.reject?.(new CorrelationTimeoutError(correlationId, this.timeoutMs));
    this.onExpired(correlationId, entry.info);
  }
}
