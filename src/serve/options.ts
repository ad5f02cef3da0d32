/*
 * serveMetrics' options and their check, done in the calling thread before any thread or
 * socket exists: a bad option is an InvalidOptionsError and nothing starts. What passes
 * is a plain record (structured-cloneable) for the server thread's workerData.
 */
import type { BackendKind } from '../backend.js';
import { InvalidOptionsError, describe } from '../errors.js';
import { checkCollectOptions } from '../export/options.js';
import { checkBackend, checkIntIn, checkOptionsObject } from '../validate.js';

export interface ServeMetricsOptions {
  /** TCP port, 0 to 65535; 0 takes a free port (read it from `server.port`). Default 9464. */
  readonly port?: number;
  /**
   * Address to listen on. Default `'127.0.0.1'`: this machine only. Use `'0.0.0.0'` (or
   * `'::'`) for a Prometheus server on another host.
   */
  readonly host?: string;
  /** The path that answers with the metrics; any other path is a 404. Default `'/metrics'`. */
  readonly path?: string;
  /** Prepended to every built-in family name, as for the exporters. Default `'atomic_stats_'`. */
  readonly prefix?: string;
  /** The server thread's backend for reading the registry. Default `'auto'`. */
  readonly backend?: BackendKind;
}

/** What the server thread is told (its workerData, with the registry's handle). */
export interface ServeConfig {
  readonly port: number;
  readonly host: string;
  readonly path: string;
  readonly prefix: string;
  readonly backend: BackendKind;
}

export const DEFAULT_PORT = 9464;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PATH = '/metrics';

// A host name or an IP literal (IPv6 without brackets, a zone after %); Node resolves it.
const HOST_RE = /^[A-Za-z0-9._:%-]{1,253}$/;
// An origin-form path: no query, fragment, space or control character.
const PATH_RE = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]{0,1023}$/;

export function checkServeOptions(options: unknown): ServeConfig {
  const o = checkOptionsObject(options, ['port', 'host', 'path', 'prefix', 'backend'], 'options');
  const port = o.port === undefined ? DEFAULT_PORT : checkIntIn(o.port, 'port', 0, 65535);
  const host = o.host === undefined ? DEFAULT_HOST : o.host;
  if (typeof host !== 'string' || !HOST_RE.test(host)) {
    throw new InvalidOptionsError('host', `must be a host name or an IP address (IPv6 without brackets), got ${describe(host)}`);
  }
  const path = o.path === undefined ? DEFAULT_PATH : o.path;
  if (typeof path !== 'string' || !PATH_RE.test(path)) {
    throw new InvalidOptionsError('path', `must start with '/' and hold no query, fragment, space or control character (at most 1024 characters), got ${describe(path)}`);
  }
  const { prefix } = checkCollectOptions(o.prefix === undefined ? undefined : { prefix: o.prefix });
  const backend = checkBackend(o.backend);
  return { port, host, path, prefix, backend };
}
