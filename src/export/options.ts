/*
 * Collect options and their check, apart from the collector: the adapters
 * (atomic-stats/prometheus, atomic-stats/opentelemetry) are bundled on their own and must
 * carry only stateless leaves like this one, never the kinds the collector reads.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { checkOptionsObject } from '../validate.js';

/**
 * Where `collect({ buses })` reads live fields from: an InProcessEventBus (live fields are
 * not in shared memory, so only the bus object knows them). Its live fields, typed here by
 * shape (those of EventBusLiveCounts) so that this leaf needs no module of the bus.
 */
export interface EventBusLiveSource {
  readonly name: string;
  getStatisticsBigInt(): { readonly rust_subscriber_patterns: number; readonly rust_handler_count: number; readonly ffi_subscriber_count: number };
}

export interface CollectOptions {
  /** Prepended to every built-in family name: `[a-zA-Z_:][a-zA-Z0-9_:]*` or `''`. Default `'atomic_stats_'`. */
  readonly prefix?: string;
  /**
   * Event buses of this thread whose live fields (patterns, handlers, receivers) are
   * reported as gauges. Live fields are not in shared memory: a bus only knows its own.
   * Buses with the same name are summed.
   */
  readonly buses?: readonly EventBusLiveSource[];
}

const PREFIX_RE = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/**
 * Turns any string into a valid Prometheus metric-name fragment: every character outside
 * `[a-zA-Z0-9_:]` becomes `_`, and a leading digit gets a `_` before it. Anything but a
 * string is an InvalidOptionsError (option `name`).
 */
export function sanitizeName(name: string): string {
  if (typeof name !== 'string') throw new InvalidOptionsError('name', `sanitizeName takes a string, got ${describe(name)}`);
  const out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/**
 * Checks collect options (shared by the exporters): a typed error for anything else, so a
 * bad prefix can never produce names Prometheus refuses at scrape time.
 */
export function checkCollectOptions(options: unknown, extra: readonly string[] = []): { prefix: string; buses: readonly EventBusLiveSource[] } {
  const o = checkOptionsObject(options, ['prefix', 'buses', ...extra], 'options');
  const prefix = o.prefix === undefined ? 'atomic_stats_' : o.prefix;
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new InvalidOptionsError('prefix', `must match [a-zA-Z_:][a-zA-Z0-9_:]* or be empty, got ${describe(prefix)}`);
  }
  const buses = o.buses === undefined ? [] : o.buses;
  if (!Array.isArray(buses) || buses.some((b) => b === null || typeof b !== 'object' || typeof (b as EventBusLiveSource).getStatisticsBigInt !== 'function')) {
    throw new InvalidOptionsError('buses', `must be an array of InProcessEventBus, got ${describe(buses)}`);
  }
  return { prefix, buses: buses as EventBusLiveSource[] };
}
