import { InvalidOptionsError } from '../errors.js';
import { checkOptionsObject } from '../options.js';
import { StatsRegistry, checkName } from '../registry.js';

/** Where handler failures are reported. `console` fits; so does a pino or winston logger. */
export interface BusLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

export interface InProcessEventBusOptions {
  /** The registry holding the bus's shared stats. */
  registry: StatsRegistry;
  /** Name of the stats entry: buses opened with the same name, in any thread, share counters. */
  name: string;
  /** Capacity of each broadcast receiver's queue (1..1,048,576). Default 1000. */
  ffiChannelBufferSize?: number;
  /** true (default): report every handler failure; false: one aggregated report per publish. */
  logSubscriberErrors?: boolean;
  /** A handler that has not settled in this many ms (1..2,147,483,647) counts as failed. Default 5000. */
  dispatchTimeoutMs?: number;
  /** Receives the reports. Default `console`. */
  logger?: BusLogger;
  /**
   * false: record nothing (getStatistics() then shows zero counters). Exists to measure
   * what the stats cost; default true.
   */
  recordStats?: boolean;
}

export interface BusConfig {
  readonly registry: StatsRegistry;
  readonly name: string;
  readonly ffiChannelBufferSize: number;
  readonly logSubscriberErrors: boolean;
  readonly dispatchTimeoutMs: number;
  readonly logger: BusLogger;
  readonly recordStats: boolean;
}

const KNOWN = ['registry', 'name', 'ffiChannelBufferSize', 'logSubscriberErrors', 'dispatchTimeoutMs', 'logger', 'recordStats'];
export const MAX_BUFFER = 1 << 20;
const MAX_TIMEOUT = 2 ** 31 - 1; // setTimeout's limit

function intIn(o: Record<string, unknown>, key: string, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidOptionsError(key, `must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

function bool(o: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new InvalidOptionsError(key, `must be a boolean, got ${String(v)}`);
  return v;
}

export function checkBusOptions(options: unknown): BusConfig {
  const o = checkOptionsObject(options, KNOWN, 'options', { required: true, shape: 'must be an object with at least registry and name' });
  if (!(o.registry instanceof StatsRegistry)) throw new InvalidOptionsError('registry', 'must be a StatsRegistry');
  const logger = o.logger ?? console;
  if (typeof (logger as BusLogger).warn !== 'function') throw new InvalidOptionsError('logger', 'must have a warn(message, details) method');
  return {
    registry: o.registry,
    name: checkName(o.name),
    ffiChannelBufferSize: intIn(o, 'ffiChannelBufferSize', 1000, 1, MAX_BUFFER),
    logSubscriberErrors: bool(o, 'logSubscriberErrors', true),
    dispatchTimeoutMs: intIn(o, 'dispatchTimeoutMs', 5000, 1, MAX_TIMEOUT),
    logger: logger as BusLogger,
    recordStats: bool(o, 'recordStats', true),
  };
}
