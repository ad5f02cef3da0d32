/*
 * serveMetrics: a /metrics endpoint served from a worker thread of its own (the server is
 * src/metrics-server-thread.ts, an entry of its own). This side checks the options, starts
 * the thread, waits for its verdict and hands back a small object to close it.
 *
 * Keeping the process alive. The thread is referenced (it keeps the event loop alive)
 * only while the caller awaits something of it: from the start until it listens or
 * fails, and during close(). While it serves, it is unreferenced, so a process whose
 * other work is done exits, as with an unref'd timer: the server answers for as long as
 * the process runs and never holds it up.
 *
 * A failed start rejects only after the thread has exited: by then its socket is closed,
 * and it never attached to the registry (the thread binds the port first), so a rejected
 * call leaves nothing behind.
 */
import { Worker } from 'node:worker_threads';
import { InvalidOptionsError, describe } from '../errors.js';
import type { RegistryCore, RegistryHandle } from '../registry-core.js';
import { ServeMetricsError } from './errors.js';
import { type ServeConfig, type ServeMetricsOptions, checkServeOptions } from './options.js';
import { type FromThread, type StartFailure, type ThreadData, type ToThread, errorFromRecord, errorRecord } from './protocol.js';

export type { ServeMetricsOptions } from './options.js';

export interface MetricsServer {
  /** The URL to scrape, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** The port listened on (the one the system chose, for `port: 0`). */
  readonly port: number;
  /** The address listened on, as given (default `'127.0.0.1'`). */
  readonly host: string;
  /** The path that serves the metrics. */
  readonly path: string;
  /** The `threadId` of the server thread. */
  readonly threadId: number;
  /**
   * Stops the server: no new connection is accepted, responses being written finish (for
   * up to 2 s), the thread detaches from the registry and ends. Resolves once the thread
   * has exited. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

// Set per output format by the build (tsup.config.ts): the server thread's file beside
// this module's, './metrics-server-thread.js' (ESM) or '.cjs' (CommonJS).
declare const __ATOMIC_STATS_SERVER_THREAD__: string | undefined;

// close() terminates a thread that has not ended this long after being asked to close.
// It only guards against a thread that cannot end; the thread drains for at most 2 s.
const CLOSE_TIMEOUT_MS = 5000;

function threadScript(): URL {
  if (typeof __ATOMIC_STATS_SERVER_THREAD__ !== 'string') {
    throw new ServeMetricsError('serveMetrics runs from the built package (dist/): its server thread is a separate file of the build');
  }
  return new URL(__ATOMIC_STATS_SERVER_THREAD__, import.meta.url);
}

function registryHandle(registry: unknown): RegistryHandle {
  if (registry === null || typeof registry !== 'object') throw new InvalidOptionsError('registry', `must be a StatsRegistry, got ${describe(registry)}`);
  // A closed registry throws RegistryClosedError here.
  const handle = (registry as { handle?: unknown }).handle;
  if (handle === null || typeof handle !== 'object' || (handle as { type?: unknown }).type !== 'atomic-stats/registry') {
    throw new InvalidOptionsError('registry', `must be a StatsRegistry (its handle is ${describe(handle)})`);
  }
  return handle as RegistryHandle;
}

function startError(stage: StartFailure, cause: Error, config: ServeConfig): ServeMetricsError {
  switch (stage) {
    case 'peer':
      return new ServeMetricsError('serveMetrics renders with prom-client, an optional peer dependency that is not installed: npm install prom-client', cause);
    case 'listen':
      return new ServeMetricsError(`cannot listen on ${config.host} port ${config.port}: ${cause.message}`, cause);
    default:
      return new ServeMetricsError(`the metrics server thread failed to start: ${cause.message}`, cause);
  }
}

const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * Serves the registry's metrics over HTTP from a worker thread of its own, so a scrape is
 * answered while every other thread is busy. `GET` (or `HEAD`) on `path` answers in the
 * Prometheus text format 0.0.4, or in OpenMetrics 1.0.0 when the `Accept` header asks for
 * it; other paths are a 404, other methods a 405. Rendering is the prom-client adapter's
 * (atomic-stats/prometheus): prom-client must be installed.
 *
 * Rejects with `InvalidOptionsError` for a bad option (nothing started), with
 * `RegistryClosedError` for a closed registry, and with `ServeMetricsError`
 * (`ERR_METRICS_SERVER`, `cause` holding the underlying error) when the server cannot
 * start: the port is in use, the host does not resolve, prom-client is missing.
 */
export async function serveMetrics(registry: RegistryCore, options?: ServeMetricsOptions): Promise<MetricsServer> {
  const config = checkServeOptions(options);
  const handle = registryHandle(registry);
  const workerData: ThreadData = { ...config, handle };
  const worker = new Worker(threadScript(), { workerData });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  let server: MetricsServer | undefined;
  let failure: { stage: StartFailure; error: Error } | undefined;
  worker.on('error', (err: Error) => {
    if (server === undefined) {
      failure ??= { stage: 'start', error: errorFromRecord(errorRecord(err)) };
      return;
    }
    // Nothing in the thread throws past its request handler: this is a crash of the thread.
    process.emitWarning(`atomic-stats: the metrics server at ${server.url} stopped: ${String(err)}`, { type: 'AtomicStatsWarning', code: 'ATOMIC_STATS_METRICS_SERVER_FAILED' });
  });

  const listening = await new Promise<number | undefined>((resolve) => {
    worker.on('message', (m: FromThread) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'failed') failure ??= { stage: m.stage, error: errorFromRecord(m.error) };
    });
    void exited.then(() => resolve(undefined));
  });
  if (listening === undefined) {
    await exited;
    const { stage, error } = failure ?? { stage: 'start' as const, error: new Error('the thread exited before listening') };
    throw startError(stage, error, config);
  }
  worker.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Referenced again: a program that awaits close() last must not exit before it resolves.
      worker.ref();
      const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
      worker.postMessage({ type: 'close' } satisfies ToThread);
      await exited;
      clearTimeout(timer);
    })());

  const { host, path } = config;
  server = Object.freeze({
    url: `http://${urlHost(host)}:${listening}${path}`,
    port: listening,
    host,
    path,
    threadId: worker.threadId,
    close,
  });
  return server;
}
