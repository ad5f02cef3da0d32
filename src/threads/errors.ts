import { AtomicStatsError } from '../errors.js';

/**
 * `monitorThread` was called in a thread that is monitored already in this registry
 * (through this registry object or another one on the same memory): one monitor per
 * thread, so that a thread has one slot and one `thread` label. `stop()` the first to
 * start another. Nothing was started.
 */
export class ThreadMonitorError extends AtomicStatsError {
  static override readonly code = 'ERR_THREAD_MONITOR';
  declare readonly code: 'ERR_THREAD_MONITOR';
  /** The slot of the monitor that is running already. */
  readonly slot: number;
  constructor(message: string, slot: number) {
    super(ThreadMonitorError.code, message);
    this.slot = slot;
  }
}
