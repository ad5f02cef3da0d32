import { AtomicStatsError } from '../errors.js';

/**
 * `serveMetrics` could not start its server: the port is in use or the host does not
 * resolve (`cause` is Node's error, with its `code`: `EADDRINUSE`, `EACCES`,
 * `ENOTFOUND`...), prom-client is not installed, or the server thread failed to start.
 * Nothing was left running: no thread, no listening socket, no attachment to the registry.
 */
export class ServeMetricsError extends AtomicStatsError {
  static override readonly code = 'ERR_METRICS_SERVER';
  declare readonly code: 'ERR_METRICS_SERVER';
  /** What failed, as thrown where it failed (in the server thread: a copy with its name, message and code). */
  override readonly cause: unknown;
  constructor(message: string, cause?: unknown) {
    super(ServeMetricsError.code, message);
    this.cause = cause;
  }
}
