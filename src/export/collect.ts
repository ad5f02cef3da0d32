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
 */
import type { InProcessEventBus } from '../bus/event-bus.js';
import { CounterSet } from '../counter-set.js';
import { listRecords, usedBytes } from '../directory.js';
import { setGeometry } from '../layout.js';
import type { StatsRegistry } from '../registry.js';
import { collectMetricKinds } from '../kinds/index.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One histogram series: cumulative bucket counts (ascending `le`, the last one `+Infinity`), sum and count. */
export interface HistogramValue {
  readonly buckets: readonly { readonly le: number; readonly count: bigint }[];
  readonly sum: number;
  readonly count: bigint;
}

export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  /** Counters: the exact u64 as a bigint. Gauges: a number. Histograms: a HistogramValue. */
  readonly value: bigint | number | HistogramValue;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** The unit, as UCUM for OpenTelemetry (`'s'`, `'By'`, `'1'`); absent when unknown. */
  readonly unit?: string;
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
const views = new WeakMap<StatsRegistry, Map<number, CounterSet>>();

function counterView(registry: StatsRegistry, offset: number, name: string, dataOffset: number, fields: string[], striped: boolean): CounterSet {
  let m = views.get(registry);
  if (m === undefined) views.set(registry, (m = new Map()));
  let v = m.get(offset);
  if (v === undefined) {
    const geometry = setGeometry(fields.length, striped, registry.stripes);
    // ownedStripe -1: this view only reads; it never writes a stripe.
    v = new CounterSet(registry.ops, { setName: name, dataOffset, geometry, ownedStripe: -1 }, fields);
    m.set(offset, v);
  }
  return v;
}

export function collectFamilies(registry: StatsRegistry, options: CollectOptions = {}): MetricFamily[] {
  const prefix = options.prefix ?? 'atomic_stats_';
  const out = new Families();
  const records = listRecords(registry.views);
  // Always present, so an exporter registered on an empty registry still has a family
  // whose collection discovers the entries created later.
  out.add(`${prefix}registry_entries`, 'gauge', 'Entries in the shared directory.', {}, records.length);
  out.add(`${prefix}registry_used_bytes`, 'gauge', 'Bytes of the shared memory in use.', {}, usedBytes(registry.views));
  for (const record of records) {
    let d: { kind?: string; fields?: string[]; striped?: boolean };
    try {
      d = JSON.parse(record.signature) as typeof d;
    } catch {
      continue;
    }
    const kind = String(d.kind);
    if (kind === 'counters' || kind in STRUCT_PREFIX) {
      const fields = d.fields ?? [];
      const values = counterView(registry, record.offset, record.name, record.dataOffset, fields, d.striped === true).snapshotBigInt();
      for (const field of fields) {
        const v = values[field] ?? 0n;
        if (kind === 'counters') {
          out.add(counterName(`${prefix}${sanitizeName(record.name)}_`, sanitizeName(field)), 'counter', `Counter "${field}" of the set "${record.name}".`, { set: record.name }, v);
        } else {
          out.add(counterName(`${prefix}${STRUCT_PREFIX[kind]}_`, field), 'counter', STRUCT_HELP[field] ?? field, { name: record.name }, v);
        }
      }
    } else if (kind === 'circuitBreaker') {
      const { kind: _, ...config } = d as Record<string, unknown>;
      const m = registry.circuitBreaker(record.name, config as never).metricsBigInt() as unknown as Record<string, unknown>;
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
  for (const bus of options.buses ?? []) {
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
  // User metrics (counter, gauge, histogram): exported under their own names, never
  // prefixed; their names cannot start with atomic_stats_, so they never merge into the
  // families above.
  return [...out.list(), ...collectMetricKinds(registry, records)];
}
