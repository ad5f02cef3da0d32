/*
 * The messages between serveMetrics (the calling thread) and its server thread. Errors
 * cross as plain records: structured cloning keeps an Error's message but not its `code`
 * or class, and the caller wants both.
 */
import type { RegistryHandle } from '../registry-core.js';
import type { ServeConfig } from './options.js';

export interface ThreadData extends ServeConfig {
  readonly handle: RegistryHandle;
}

export interface ErrorRecord {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly syscall?: string;
  readonly address?: string;
  readonly port?: number;
  readonly stack?: string;
}

/** Why the thread could not start: prom-client is missing, listen failed, or anything else. */
export type StartFailure = 'peer' | 'listen' | 'start';

export type FromThread =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly stage: StartFailure; readonly error: ErrorRecord };

export type ToThread = { readonly type: 'close' };

export function errorRecord(err: unknown): ErrorRecord {
  if (err === null || typeof err !== 'object') return { name: 'Error', message: String(err) };
  const e = err as Partial<Record<keyof ErrorRecord, unknown>>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const rec: { -readonly [K in keyof ErrorRecord]: ErrorRecord[K] } = { name: str(e.name) ?? 'Error', message: str(e.message) ?? String(err) };
  if (str(e.code) !== undefined) rec.code = str(e.code);
  if (str(e.syscall) !== undefined) rec.syscall = str(e.syscall);
  if (str(e.address) !== undefined) rec.address = str(e.address);
  if (typeof e.port === 'number') rec.port = e.port;
  if (str(e.stack) !== undefined) rec.stack = str(e.stack);
  return rec;
}

/** An Error rebuilt in the calling thread from a record, with the same name, message and code. */
export function errorFromRecord(rec: ErrorRecord): Error {
  const err = new Error(rec.message) as Error & Record<string, unknown>;
  for (const [k, v] of Object.entries(rec)) if (k !== 'message' && v !== undefined) Object.defineProperty(err, k, { value: v, writable: true, configurable: true, enumerable: k !== 'stack' && k !== 'name' });
  return err;
}
