/*
 * One read of everything a registry holds, as metric families, for exporters
 * (atomic-stats/prometheus, atomic-stats/opentelemetry) and for anyone writing another.
 *
 * It walks the shared directory, so it sees every entry any thread created, and reads
 * the cells straight from the shared memory: no message to any worker, which is why a
 * worker that died still has its counts in the totals. Counter sets and stats structs are
 * read through a read-only view of their cells (built once per record and kept), so a
 * struct's stored counters are all exported, including the ones its DTO only derives
 * from (total_execution_time_ms); breakers are opened with their own config.
 *
 * Naming (Prometheus rules: [a-zA-Z_:][a-zA-Z0-9_:]*):
 *   counter sets        <prefix><set>_<field>_total              {set="<name>"}
 *   stats structs       <prefix><kind>_<field>_total (counters)  {name="<name>"}
 *                       <prefix>event_bus_<live field> (gauges, buses passed in)
 *   circuit breakers    <prefix>circuit_breaker_<field>_total    {name="<name>"}
 *                       <prefix>circuit_breaker_consecutive_failures, _half_open_calls,
 *                       _state (gauges; state 0 Closed, 1 Open, 2 HalfOpen)
 *   the registry        <prefix>registry_entries, <prefix>registry_used_bytes (gauges)
 * Counters end in _total, and a field that starts with total_ has it moved to the end
 * (total_calls -> calls_total); gauges do not. Any other character of a name becomes '_'. Counter values are exact
 * bigints here; what an exporter does above 2^53 is its own (documented) business.
 *
 * Corrupt memory. Every record is bounds-checked before it is read, and its signature
 * must describe its data exactly (registry.ts `checkedRecords`), so a scrape reads inside
 * each entry's own cells. An entry that fails is left out of the families and reported
 * once (a process warning; `usage().corruptRecords`); the scrape goes on.
 */
import type { InProcessEventBus } from '../bus/event-bus.js';
import { CounterSet } from '../counter-set.js';
import { AtomicStatsError, InvalidOptionsError, describe } from '../errors.js';
import { setGeometry } from '../layout.js';
import { checkOptionsObject } from '../options.js';
import type { CheckedRecord, StatsRegistry } from '../registry.js';

export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  /** Counters: the exact u64 as a bigint. Gauges: a number. */
  readonly value: bigint | number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: MetricSample[];
}

export interface CollectOptions {
  /** Prepended to every family name. Default `'atomic_stats_'`. */
  readonly prefix?: string;
  /**
   * Event buses of this thread whose live fields (patterns, handlers, receivers) are
   * reported as gauges. Live fields are not in shared memory: a bus only knows its own.
   * Buses with the same name are summed.
   */
  readonly buses?: readonly InProcessEventBus[];
}

/** Turns any string into a valid Prometheus metric-name fragment. */
export function sanitizeName(s: string): string {
  const out = s.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

const STRUCT_PREFIX: Record<string, string> = {
  stepExecutionStats: 'step_execution',
  eventBusStats: 'event_bus',
  workerSubscriberStats: 'worker_subscriber',
};

const STRUCT_HELP: Record<string, string> = {
  total_executed: 'Step executions recorded (successes + failures).',
  total_succeeded: 'Step executions that succeeded.',
  total_failed: 'Step executions that failed.',
  total_execution_time_ms: 'Summed execution time of successful steps, in milliseconds.',
  total_events_dispatched: 'Events published.',
  rust_handler_dispatches: 'Publishes that ran the handler step (at least one handler registered).',
  ffi_channel_dispatches: 'Publishes delivered to at least one open broadcast receiver.',
  rust_handler_errors: 'Handler failures (throws, rejections, timeouts).',
  ffi_channel_drops: 'Publishes with no open broadcast receiver.',
  ffi_channel_lagged: 'Events lost by broadcast receivers that fell too far behind.',
  completions_received: 'Step completions received.',
  successful_completions: 'Completions reporting success.',
  failed_completions: 'Completions reporting failure.',
  conversion_errors: 'Completions that could not be converted to a step result.',
  unmatched_correlations: 'Completions that matched no pending execution.',
};

const BREAKER_COUNTERS: Record<string, string> = {
  total_calls: 'Calls recorded (successes + failures).',
  success_count: 'Successful calls.',
  failure_count: 'Failed calls.',
  total_duration_nanos: 'Summed call duration, in nanoseconds.',
  rejected_calls: 'Calls refused by the breaker.',
  times_opened: 'Transitions to Open.',
};
const BREAKER_GAUGES: Record<string, string> = {
  consecutive_failures: 'Failures in a row while Closed.',
  half_open_calls: 'Successful probes in the current half-open period.',
};
const STATE_CODE = { Closed: 0, Open: 1, HalfOpen: 2 } as const;

// Families by name, in first-seen order. Every sample's labels carry the entry's raw name
// (names are unique in the directory), so no two samples of a family share labels even
// when two names sanitize alike.
class Families {
  private readonly byName = new Map<string, MetricFamily>();
  add(name: string, type: MetricType, help: string, labels: Record<string, string>, value: bigint | number): void {
    let f = this.byName.get(name);
    if (f === undefined) {
      f = { name, help, type, samples: [] };
      this.byName.set(name, f);
    }
    f.samples.push({ labels, value });
  }
  list(): MetricFamily[] {
    return [...this.byName.values()];
  }
}

// Prometheus counters end in _total; a field that starts with total_ (total_calls) has it
// moved to the end (calls_total) rather than doubled.
const counterName = (prefix: string, field: string) => {
  const f = field.startsWith('total_') ? field.slice(6) : field;
  return f.endsWith('_total') ? `${prefix}${f}` : `${prefix}${f}_total`;
};

// Read-only views of counter-like records, per registry attachment and record offset.
// A view is kept only while its record's signature and data offset are the ones it was
// built for, so a record rewritten in shared memory is never read with a stale geometry.
const views = new WeakMap<StatsRegistry, Map<number, { key: string; set: CounterSet }>>();

function counterView(registry: StatsRegistry, record: CheckedRecord, fields: string[], striped: boolean): CounterSet {
  let m = views.get(registry);
  if (m === undefined) views.set(registry, (m = new Map()));
  const key = `${record.dataOffset} ${record.signature}`;
  let v = m.get(record.offset);
  if (v === undefined || v.key !== key) {
    const geometry = setGeometry(fields.length, striped, registry.stripes);
    // ownedStripe -1: this view only reads; it never writes a stripe.
    v = { key, set: new CounterSet(registry.ops, { setName: record.name, dataOffset: record.dataOffset, geometry, ownedStripe: -1 }, fields) };
    m.set(record.offset, v);
  }
  return v.set;
}

const PREFIX_RE = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

// The same checks as every other options object: known keys, right types.
function checkCollectOptions(options: unknown): { prefix: string; buses: readonly InProcessEventBus[] } {
  const o = checkOptionsObject(options, ['prefix', 'buses'], 'options');
  const prefix = o.prefix ?? 'atomic_stats_';
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new InvalidOptionsError('prefix', `must be empty or a metric-name start ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${describe(prefix)}`);
  }
  const buses = o.buses ?? [];
  if (!Array.isArray(buses)) throw new InvalidOptionsError('buses', `must be an array of event buses, got ${describe(buses)}`);
  for (const bus of buses as unknown[]) {
    const b = bus as Partial<InProcessEventBus> | null;
    if (b === null || typeof b !== 'object' || typeof b.name !== 'string' || typeof b.getStatisticsBigInt !== 'function') {
      throw new InvalidOptionsError('buses', `must hold only event buses, got ${describe(bus)}`);
    }
  }
  return { prefix, buses: buses as readonly InProcessEventBus[] };
}

export function collectFamilies(registry: StatsRegistry, options?: CollectOptions): MetricFamily[] {
  const { prefix, buses } = checkCollectOptions(options);
  const out = new Families();
  const records = registry.checkedRecords();
  // Always present, so an exporter registered on an empty registry still has a family
  // whose collection discovers the entries created later.
  out.add(`${prefix}registry_entries`, 'gauge', 'Entries in the shared directory.', {}, records.length);
  out.add(`${prefix}registry_used_bytes`, 'gauge', 'Bytes of the shared memory in use.', {}, registry.directory.usedBytes());
  for (const record of records) {
    const kind: string = record.kindName;
    const d = record.descriptor as { fields?: string[]; striped?: boolean };
    if (kind === 'counters' || kind in STRUCT_PREFIX) {
      // checkedRecords() checked the fields and that the data has exactly their size.
      const fields = d.fields!;
      const values = counterView(registry, record, fields, d.striped === true).snapshotBigInt();
      for (const field of fields) {
        const v = values[field as keyof typeof values] ?? 0n;
        if (kind === 'counters') {
          out.add(counterName(`${prefix}${sanitizeName(record.name)}_`, sanitizeName(field)), 'counter', `Counter "${field}" of the set "${record.name}".`, { set: record.name }, v);
        } else {
          out.add(counterName(`${prefix}${STRUCT_PREFIX[kind]}_`, field), 'counter', STRUCT_HELP[field] ?? field, { name: record.name }, v);
        }
      }
    } else if (kind === 'circuitBreaker') {
      let m: Record<string, unknown>;
      try {
        m = registry.circuitBreaker(record.name, record.descriptor as never).metricsBigInt() as unknown as Record<string, unknown>;
      } catch (e) {
        // A config no valid breaker has (InvalidOptionsError), or a record that changed
        // under us: the entry is corrupt, the scrape goes on.
        if (!(e instanceof AtomicStatsError)) throw e;
        registry.reportCorrupt(record, e);
        continue;
      }
      const labels = { name: record.name };
      for (const [field, help] of Object.entries(BREAKER_COUNTERS)) {
        out.add(counterName(`${prefix}circuit_breaker_`, field), 'counter', help, labels, m[field] as bigint);
      }
      for (const [field, help] of Object.entries(BREAKER_GAUGES)) {
        out.add(`${prefix}circuit_breaker_${field}`, 'gauge', help, labels, Number(m[field] as bigint));
      }
      out.add(`${prefix}circuit_breaker_state`, 'gauge', 'Breaker state: 0 Closed, 1 Open, 2 HalfOpen.', labels, STATE_CODE[m.current_state as keyof typeof STATE_CODE]);
    }
    // Kinds this version does not know (a newer writer) are skipped rather than guessed at.
  }
  const live = new Map<string, { p: number; h: number; r: number }>();
  for (const bus of buses) {
    const s = bus.getStatisticsBigInt();
    const acc = live.get(bus.name) ?? { p: 0, h: 0, r: 0 };
    acc.p += s.rust_subscriber_patterns;
    acc.h += s.rust_handler_count;
    acc.r += s.ffi_subscriber_count;
    live.set(bus.name, acc);
  }
  for (const [name, l] of live) {
    out.add(`${prefix}event_bus_rust_subscriber_patterns`, 'gauge', 'Distinct handler patterns (buses of the exporting thread).', { name }, l.p);
    out.add(`${prefix}event_bus_rust_handler_count`, 'gauge', 'Handlers over all patterns (buses of the exporting thread).', { name }, l.h);
    out.add(`${prefix}event_bus_ffi_subscriber_count`, 'gauge', 'Open broadcast receivers (buses of the exporting thread).', { name }, l.r);
  }
  return out.list();
}
