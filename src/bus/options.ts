import { InvalidOptionsError } from '../errors.js';
import { bool, checkName, checkOptionsObject, intIn } from '../validate.js';
import { RegistryCore } from '../registry-core.js';
import { DEFAULT_MAX_REPORTS, DEFAULT_REPORT_INTERVAL_MS, MAX_REPORTS_LIMIT, type ReportLimits, defaultLogger } from './reporter.js';

/** Where handler failures are reported. `console` fits; so does a pino or winston logger. */
export interface BusLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

export interface InProcessEventBusOptions {
  /** The registry holding the bus's shared stats. */
  registry: RegistryCore;
  /** Name of the stats entry: buses opened with the same name, in any thread, share counters. */
  name: string;
  /** Capacity of each broadcast receiver's queue (1..1,048,576). Default 1000. */
  broadcastBufferSize?: number;
  /** @deprecated Use `broadcastBufferSize`: the same option under its former name (removed in 0.3). Give one of the two. */
  ffiChannelBufferSize?: number;
  /** true (default): report every handler failure; false: one aggregated report per publish. */
  logSubscriberErrors?: boolean;
  /** A handler that has not settled in this many ms (1..2,147,483,647) counts as failed. Default 5000. */
  dispatchTimeoutMs?: number;
  /**
   * Publishes that may await asynchronous handlers at once (1..1,048,576). Default 10,000.
   * At the bound the bus sheds: a publish calls no handler known to be asynchronous, and
   * does not await a thenable returned by any other; each handler left out counts in
   * `rust_handler_errors` and `rust_handler_shed`. Synchronous handlers and broadcast
   * receivers still get every event. Publishes made from inside handlers count too: a
   * publish takes its slot once its handlers have returned, and if none is left by then,
   * the thenables they returned are shed in the same way.
   */
  maxPendingDispatches?: number;
  /** Reports written per `reportIntervalMs` (0..1,000,000); the rest are counted and summarized. Default 10. */
  maxReportsPerInterval?: number;
  /** Length of a report window, in ms (1..2,147,483,647). Default 10,000. */
  reportIntervalMs?: number;
  /** false (default): reports carry the error's message; true: the Error itself, with its stack. */
  logStacks?: boolean;
  /** Receives the reports. Default: one `console.warn` line per report. */
  logger?: BusLogger;
  /**
   * false: record nothing (getStatistics() then shows zero counters). Exists to measure
   * what the stats cost; default true.
   */
  recordStats?: boolean;
}

export interface BusConfig {
  readonly registry: RegistryCore;
  readonly name: string;
  readonly broadcastBufferSize: number;
  readonly logSubscriberErrors: boolean;
  readonly dispatchTimeoutMs: number;
  readonly logger: BusLogger;
  readonly recordStats: boolean;
  readonly maxPendingDispatches: number;
  readonly reports: ReportLimits;
}

const KNOWN = [
  'registry',
  'name',
  'broadcastBufferSize',
  'ffiChannelBufferSize',
  'logSubscriberErrors',
  'dispatchTimeoutMs',
  'logger',
  'recordStats',
  'maxPendingDispatches',
  'maxReportsPerInterval',
  'reportIntervalMs',
  'logStacks',
];
export const MAX_BUFFER = 1 << 20;
export const DEFAULT_MAX_PENDING = 10_000;
const MAX_PENDING = 1 << 20;
const MAX_TIMEOUT = 2 ** 31 - 1; // setTimeout's limit

/** The rate-limit options a bus and a subscriber share (see reporter.ts). */
export function checkReportOptions(o: Record<string, unknown>): ReportLimits {
  return {
    maxReportsPerInterval: intIn(o, 'maxReportsPerInterval', DEFAULT_MAX_REPORTS, 0, MAX_REPORTS_LIMIT),
    reportIntervalMs: intIn(o, 'reportIntervalMs', DEFAULT_REPORT_INTERVAL_MS, 1, MAX_TIMEOUT),
    logStacks: bool(o, 'logStacks', false),
  };
}

/** `logger` option: absent means the one-line console logger. */
export function checkLogger(v: unknown): BusLogger {
  if (v === undefined) return defaultLogger;
  if (v === null || (typeof v !== 'object' && typeof v !== 'function') || typeof (v as BusLogger).warn !== 'function') {
    throw new InvalidOptionsError('logger', 'must have a warn(message, details) method');
  }
  return v as BusLogger;
}

/**
 * `broadcastBufferSize`, or its deprecated name `ffiChannelBufferSize`, checked under the
 * name it was given; both at once are refused, whether or not they agree, rather than
 * one silently winning.
 */
function bufferSize(o: Record<string, unknown>): number {
  if (o.ffiChannelBufferSize === undefined) return intIn(o, 'broadcastBufferSize', 1000, 1, MAX_BUFFER);
  if (o.broadcastBufferSize !== undefined) {
    throw new InvalidOptionsError('ffiChannelBufferSize', 'is the deprecated name of broadcastBufferSize; give only broadcastBufferSize');
  }
  return intIn(o, 'ffiChannelBufferSize', 1000, 1, MAX_BUFFER);
}

export function checkBusOptions(options: unknown): BusConfig {
  const o = checkOptionsObject(options, KNOWN, 'options', { required: true, shape: 'must be an object with at least registry and name' });
  if (!(o.registry instanceof RegistryCore)) throw new InvalidOptionsError('registry', 'must be a StatsRegistry');
  const logger = checkLogger(o.logger);
  return {
    registry: o.registry,
    name: checkName(o.name),
    broadcastBufferSize: bufferSize(o),
    logSubscriberErrors: bool(o, 'logSubscriberErrors', true),
    dispatchTimeoutMs: intIn(o, 'dispatchTimeoutMs', 5000, 1, MAX_TIMEOUT),
    logger,
    recordStats: bool(o, 'recordStats', true),
    maxPendingDispatches: intIn(o, 'maxPendingDispatches', DEFAULT_MAX_PENDING, 1, MAX_PENDING),
    reports: checkReportOptions(o),
  };
}
