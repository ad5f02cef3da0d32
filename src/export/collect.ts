/*
 * One read of everything a registry holds, as metric families, for exporters
 * (atomic-stats/prometheus, atomic-stats/opentelemetry) and for anyone writing another.
 *
 * It walks the shared directory, so it sees every entry any thread created, and reads
 * the cells straight from the shared memory: no message to any worker, which is why a
 * worker that died still has its counts in the totals.
 *
 * Naming. Built-in families follow the Prometheus conventions and all start with the
 * prefix (default `atomic_stats_`); docs/exporting.md has the full table, DTO key by DTO key.
 *   - base units: durations are exported in seconds (`_seconds_total`), sizes in bytes;
 *   - `_total` on counters only, no `_count` outside histograms;
 *   - a family per meaning: where fields partition one count (succeeded / failed) they
 *     are one family with an `outcome` label; breaker state is one 0/1 series per state;
 *   - counter sets live under `<prefix>set_`, one family per set with a `field` label,
 *     so no set name can ever merge into a built-in family (`circuit_breaker` with a field
 *     `calls` becomes `atomic_stats_set_circuit_breaker_total{field="calls"}`). One family
 *     per set rather than per field: a counter set is one record written by one piece of
 *     code, its fields are most often the values of one dimension (status codes, outcomes),
 *     the field name needs no sanitizing as a label value, and the family count (what a
 *     scraper and prom-client pay for per family) stays one per set.
 *   - Label values carry the raw names (names are unique in the directory), so two names
 *     that sanitize alike still give distinct series of one family.
 *
 * Why a cache per record offset. A scrape of many series must cost no more than
 * prom-client's own, so everything that does not change between scrapes is computed once
 * per record: the parsed signature, the family name, the read-only counter views and the
 * frozen label objects of every series. Returning the *same* label object for a series at
 * every scrape lets the Prometheus adapter hand it to prom-client as `sharedLabels`, whose
 * rendered string prom-client caches by object identity. A record never moves and its head
 * (name, kind, signature) never changes once published, so the offset is a sound key; the
 * name is compared anyway, which costs one string compare and guards against a registry
 * that was re-created on the same memory object.
 *
 * Untrusted input. Field lists come from the shared memory (a signature any thread wrote):
 * a record whose signature is not the JSON this version writes (an array of distinct
 * strings, at most MAX_FIELDS) is skipped rather than guessed at, and field names are
 * only ever used as Map keys or label values, never as plain-object keys, so `__proto__`,
 * `constructor` and the like are exported exactly like any other field.
 *
 * Corrupt memory. Every record is bounds-checked before it is read, and its signature
 * must describe its data exactly (registry-core.ts `checkedRecords`), so a scrape reads inside
 * each entry's own cells. An entry that fails is left out of the families and reported
 * once (a process warning; `usage().corruptRecords`); the scrape goes on.
 *
 * Values: counters that count are exact bigints; counters converted to a base unit
 * (seconds) are doubles: a u64 total of ns divided by 1e9 (ms by 1e3), exact while the
 * total is below 2^53 ns (104 days of summed time), then within one part in 2^53.
 */
import { type CircuitBreaker, openCircuitBreaker } from '../breaker/index.js';
import type { Counter } from '../counter-set.js';
import { CounterSet } from '../counter-set.js';
import { AtomicStatsError, InvalidOptionsError, describe } from '../errors.js';
import { setGeometry } from '../layout.js';
import { checkOptionsObject } from '../validate.js';
import type { CheckedRecord, RegistryCore } from '../registry-core.js';
import { BUS_DTO_FIELDS, BUS_FIELDS, type BusField, STEP_FIELDS, SUBSCRIBER_FIELDS, foldBusOutcomes } from '../stats/fields.js';
import { collectMetricKinds } from '../kinds/index.js';
import type { EventBusLiveSource } from '../stats/event-bus-stats.js';
import type { MetricFamily, MetricSample, MetricType } from './family.js';

export type { HistogramValue, MetricFamily, MetricSample, MetricType } from './family.js';

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

/** The longest field list a counter-set signature may carry before it is judged corrupt. */
const MAX_FIELDS = 4096;
const PREFIX_RE = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/** Turns any string into a valid Prometheus metric-name fragment. */
export function sanitizeName(s: string): string {
  const out = s.replace(/[^a-zA-Z0-9_:]/g, '_');
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

// ---- the built-in families: one row per exported family ---------------------------------

type Conv = 'count' | 'ms' | 'ns';
interface Row {
  /** Family name after the prefix. */
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  /** Index of the source field in the struct's field list, and the label it adds. */
  readonly field: number;
  readonly conv: Conv;
  readonly outcome?: string;
}

const STEP: readonly Row[] = [
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 2, conv: 'count', outcome: 'failure' },
  { name: 'step_execution_duration_seconds_total', help: 'Summed execution time of successful steps.', unit: 's', field: 3, conv: 'ms' },
];
const BUS: readonly Row[] = [
  { name: 'event_bus_events_published_total', help: 'Events published.', unit: '{event}', field: 0, conv: 'count' },
  { name: 'event_bus_handler_dispatches_total', help: 'Publishes that ran the in-process handlers (at least one handler subscribed).', unit: '{event}', field: 1, conv: 'count' },
  { name: 'event_bus_broadcast_dispatches_total', help: 'Publishes delivered to at least one open broadcast receiver.', unit: '{event}', field: 2, conv: 'count' },
  { name: 'event_bus_handler_errors_total', help: 'Handler failures (throws, rejections, timeouts).', unit: '{error}', field: 3, conv: 'count' },
  { name: 'event_bus_broadcast_drops_total', help: 'Publishes with no open broadcast receiver.', unit: '{event}', field: 4, conv: 'count' },
  { name: 'event_bus_broadcast_lagged_events_total', help: 'Events lost by broadcast receivers that fell too far behind.', unit: '{event}', field: 5, conv: 'count' },
  { name: 'event_bus_handler_sheds_total', help: 'Handler calls left out because the bus already had maxPendingDispatches publishes awaiting handlers (also counted as handler errors).', unit: '{call}', field: 6, conv: 'count' },
];
const SUBSCRIBER: readonly Row[] = [
  { name: 'worker_subscriber_completions_received_total', help: 'Step completions received.', unit: '{completion}', field: 0, conv: 'count' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 2, conv: 'count', outcome: 'failure' },
  { name: 'worker_subscriber_conversion_errors_total', help: 'Completions that could not be converted to a step result.', unit: '{completion}', field: 3, conv: 'count' },
  { name: 'worker_subscriber_unmatched_completions_total', help: 'Completions that matched no pending execution.', unit: '{completion}', field: 4, conv: 'count' },
];
// The bus's outcome cells folded into the DTO's fields they stand for (stats/fields.ts);
// rows index the result in DTO order.
function foldBus(values: readonly bigint[]): readonly bigint[] {
  const raw = {} as Record<BusField, bigint>;
  BUS_FIELDS.forEach((f, i) => {
    raw[f] = values[i]!;
  });
  const dto = foldBusOutcomes(raw);
  return BUS_DTO_FIELDS.map((f) => dto[f]);
}

// The stats structs' field lists, to check a signature against, and how to read them.
const STRUCTS: Record<string, { fields: readonly string[]; rows: readonly Row[]; fold?: (values: readonly bigint[]) => readonly bigint[] }> = {
  stepExecutionStats: { fields: STEP_FIELDS, rows: STEP },
  eventBusStats: { fields: BUS_FIELDS, rows: BUS, fold: foldBus },
  workerSubscriberStats: { fields: SUBSCRIBER_FIELDS, rows: SUBSCRIBER },
};

// Breaker counters: the metricsBigInt() key each family reads.
const BREAKER: readonly (Omit<Row, 'field'> & { key: string })[] = [
  { name: 'circuit_breaker_calls_total', help: 'Calls recorded, by outcome.', unit: '{call}', key: 'success_count', conv: 'count', outcome: 'success' },
  { name: 'circuit_breaker_calls_total', help: 'Calls recorded, by outcome.', unit: '{call}', key: 'failure_count', conv: 'count', outcome: 'failure' },
  { name: 'circuit_breaker_call_duration_seconds_total', help: 'Summed duration of recorded calls.', unit: 's', key: 'total_duration_nanos', conv: 'ns' },
  { name: 'circuit_breaker_rejected_calls_total', help: 'Calls refused by the breaker.', unit: '{call}', key: 'rejected_calls', conv: 'count' },
  { name: 'circuit_breaker_opens_total', help: 'Transitions to the open state.', unit: '{transition}', key: 'times_opened', conv: 'count' },
];
const BREAKER_STATES = [
  ['Closed', 'closed'],
  ['Open', 'open'],
  ['HalfOpen', 'half_open'],
] as const;

const NO_LABELS = Object.freeze({}) as Readonly<Record<string, string>>;

const convert = (v: bigint, conv: Conv): bigint | number => (conv === 'count' ? v : conv === 'ms' ? Number(v) / 1e3 : Number(v) / 1e9);

// ---- families ----------------------------------------------------------------------------

interface MutableFamily {
  name: string;
  help: string;
  type: MetricType;
  unit?: string;
  integer?: boolean;
  samples: MetricSample[];
}

// Families by name, in first-seen order.
class Families {
  readonly byName = new Map<string, MutableFamily>();
  family(name: string, type: MetricType, help: string, unit: string, integer: boolean): MutableFamily {
    let f = this.byName.get(name);
    if (f === undefined) {
      f = { name, help, type, unit, integer, samples: [] };
      this.byName.set(name, f);
    }
    return f;
  }
  add(name: string, type: MetricType, help: string, unit: string, labels: Readonly<Record<string, string>>, value: bigint | number, integer = typeof value === 'bigint'): void {
    this.family(name, type, help, unit, integer).samples.push({ labels, value });
  }
  list(): MetricFamily[] {
    return [...this.byName.values()];
  }
}

// ---- per-record caches -----------------------------------------------------------------

interface SetCache {
  readonly type: 'set';
  readonly name: string;
  readonly family: string;
  readonly help: string;
  readonly counters: readonly Counter[];
  readonly labels: readonly Readonly<Record<string, string>>[];
}
interface StructCache {
  readonly type: 'struct';
  readonly name: string;
  readonly rows: readonly Row[];
  readonly fold: ((values: readonly bigint[]) => readonly bigint[]) | undefined;
  readonly counters: readonly Counter[];
  /** Per row: its labels. */
  readonly labels: readonly Readonly<Record<string, string>>[];
}
interface BreakerCache {
  readonly type: 'breaker';
  readonly name: string;
  readonly breaker: CircuitBreaker;
  readonly labels: readonly Readonly<Record<string, string>>[];
  readonly plain: Readonly<Record<string, string>>;
  readonly states: readonly Readonly<Record<string, string>>[];
}
interface SkipCache {
  readonly type: 'skip';
  readonly name: string;
}
type RecordCache = SetCache | StructCache | BreakerCache | SkipCache;

interface RegistryCache {
  prefix: string;
  readonly records: Map<number, RecordCache>;
  readonly busLabels: Map<string, Readonly<Record<string, string>>>;
}

// Per registry attachment, per prefix (the family names are part of what is cached).
const caches = new WeakMap<RegistryCore, Map<string, RegistryCache>>();

function registryCache(registry: RegistryCore, prefix: string): RegistryCache {
  let m = caches.get(registry);
  if (m === undefined) caches.set(registry, (m = new Map()));
  let c = m.get(prefix);
  if (c === undefined) m.set(prefix, (c = { prefix, records: new Map(), busLabels: new Map() }));
  return c;
}

function parseFields(d: { fields?: unknown }): string[] | undefined {
  const f = d.fields;
  if (!Array.isArray(f) || f.length === 0 || f.length > MAX_FIELDS) return undefined;
  if (!f.every((x) => typeof x === 'string')) return undefined;
  if (new Set(f).size !== f.length) return undefined;
  return f as string[];
}

/**
 * Read-only counter views of a record's cells, or undefined when the cells the signature
 * describes would not lie inside the record's data and the memory (a corrupt or foreign
 * record: skipped, never read out of bounds).
 */
function view(registry: RegistryCore, record: { name: string; dataOffset: number; dataBytes: number }, fields: readonly string[], striped: boolean): Counter[] | undefined {
  const geometry = setGeometry(fields.length, striped, registry.stripes);
  const { dataOffset, dataBytes } = record;
  if (dataOffset % 8 !== 0 || geometry.dataBytes > dataBytes || dataOffset + dataBytes > registry.views.u8.byteLength) return undefined;
  // ownedStripe -1: this view only reads; it never writes a stripe.
  const set = new CounterSet(registry.ops, { setName: record.name, dataOffset, geometry, ownedStripe: -1 }, fields);
  return fields.map((f) => set.counter(f));
}

function buildCache(registry: RegistryCore, prefix: string, record: CheckedRecord): RecordCache {
  const skip: SkipCache = { type: 'skip', name: record.name };
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(record.signature) as Record<string, unknown>;
  } catch {
    return skip;
  }
  if (d === null || typeof d !== 'object') return skip;
  const kind = d.kind;
  if (kind === 'counters') {
    const fields = parseFields(d);
    if (fields === undefined) return skip;
    // After `set_`, a leading digit is fine: no underscore added.
    let base = record.name.replace(/[^a-zA-Z0-9_:]/g, '_');
    if (base.endsWith('_total')) base = base.slice(0, -6);
    const counters = view(registry, record, fields, d.striped === true);
    if (counters === undefined) return skip;
    return {
      type: 'set',
      name: record.name,
      family: `${prefix}set_${base}_total`,
      help: `Counter set "${record.name}", one series per field.`,
      counters,
      labels: fields.map((field) => Object.freeze({ set: record.name, field })),
    };
  }
  if (typeof kind === 'string' && Object.hasOwn(STRUCTS, kind)) {
    const s = STRUCTS[kind]!;
    const fields = parseFields(d);
    if (fields === undefined || fields.length !== s.fields.length || fields.some((f, i) => f !== s.fields[i])) return skip;
    const counters = view(registry, record, fields, d.striped === true);
    if (counters === undefined) return skip;
    const plain = Object.freeze({ name: record.name });
    return {
      type: 'struct',
      name: record.name,
      rows: s.rows,
      fold: s.fold,
      counters,
      labels: s.rows.map((r) => (r.outcome === undefined ? plain : Object.freeze({ name: record.name, outcome: r.outcome }))),
    };
  }
  if (kind === 'circuitBreaker') {
    const { kind: _, ...config } = d;
    let breaker: CircuitBreaker;
    try {
      breaker = openCircuitBreaker(registry, record.name, config as never);
    } catch (e) {
      // A config no valid breaker has (InvalidOptionsError), or a record that changed
      // under us: the entry is corrupt, the scrape goes on.
      if (!(e instanceof AtomicStatsError)) throw e;
      registry.reportCorrupt(record, e);
      return skip;
    }
    const plain = Object.freeze({ name: record.name });
    return {
      type: 'breaker',
      name: record.name,
      breaker,
      plain,
      labels: BREAKER.map((r) => (r.outcome === undefined ? plain : Object.freeze({ name: record.name, outcome: r.outcome }))),
      states: BREAKER_STATES.map(([, state]) => Object.freeze({ name: record.name, state })),
    };
  }
  // Kinds this version does not know (a newer writer) are skipped rather than guessed at.
  return skip;
}

export function collectFamilies(registry: RegistryCore, options?: CollectOptions): MetricFamily[] {
  const { prefix, buses } = checkCollectOptions(options);
  const cache = registryCache(registry, prefix);
  const out = new Families();
  const records = registry.checkedRecords();
  // Always present, so an exporter registered on an empty registry still has families.
  out.add(`${prefix}registry_entries`, 'gauge', 'Entries in the shared directory.', '{entry}', NO_LABELS, records.length, true);
  out.add(`${prefix}registry_used_bytes`, 'gauge', 'Bytes of the shared memory in use.', 'By', NO_LABELS, registry.directory.usedBytes(), true);
  const u = registry.stripeUsage();
  out.add(`${prefix}registry_stripes`, 'gauge', 'Owned stripes per striped entry.', '{stripe}', NO_LABELS, u.stripes, true);
  out.add(`${prefix}registry_stripes_in_use`, 'gauge', 'Owned stripes held now by registry objects of any thread.', '{stripe}', NO_LABELS, u.slotsInUse, true);
  out.add(`${prefix}registry_attachments_total`, 'counter', 'Registry objects made on this memory (create and every attach).', '{attachment}', NO_LABELS, BigInt(u.attachments));
  out.add(`${prefix}registry_attachments_without_stripe_total`, 'counter', 'Attachments that found every stripe held and add to the shared stripe.', '{attachment}', NO_LABELS, BigInt(u.attachmentsWithoutStripe));
  for (const record of records) {
    let c = cache.records.get(record.offset);
    if (c === undefined || c.name !== record.name) {
      c = buildCache(registry, prefix, record);
      cache.records.set(record.offset, c);
    }
    if (c.type === 'set') {
      const f = out.family(c.family, 'counter', c.help, '1', true);
      for (let i = 0; i < c.counters.length; i++) f.samples.push({ labels: c.labels[i]!, value: c.counters[i]!.valueBigInt() });
    } else if (c.type === 'struct') {
      let values: readonly bigint[] = c.counters.map((k) => k.valueBigInt());
      if (c.fold !== undefined) values = c.fold(values);
      for (let i = 0; i < c.rows.length; i++) {
        const r = c.rows[i]!;
        const v = convert(values[r.field]!, r.conv);
        out.add(prefix + r.name, 'counter', r.help, r.unit, c.labels[i]!, v);
      }
    } else if (c.type === 'breaker') {
      const m = c.breaker.metricsBigInt() as unknown as Record<string, unknown>;
      for (let i = 0; i < BREAKER.length; i++) {
        const r = BREAKER[i]!;
        const v = m[r.key];
        // A key the breaker no longer reports is left out rather than exported as NaN.
        if (typeof v === 'bigint') out.add(prefix + r.name, 'counter', r.help, r.unit, c.labels[i]!, convert(v, r.conv));
      }
      out.add(`${prefix}circuit_breaker_consecutive_failures`, 'gauge', 'Failures in a row while closed.', '{call}', c.plain, Number(m.consecutive_failures as bigint), true);
      out.add(`${prefix}circuit_breaker_half_open_successes`, 'gauge', 'Successful probes in the current half-open period.', '{call}', c.plain, Number(m.half_open_calls as bigint), true);
      for (let i = 0; i < BREAKER_STATES.length; i++) {
        out.add(`${prefix}circuit_breaker_state`, 'gauge', 'Breaker state: 1 for the current state, 0 for the others.', '1', c.states[i]!, m.current_state === BREAKER_STATES[i]![0] ? 1 : 0, true);
      }
    }
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
    let labels = cache.busLabels.get(name);
    if (labels === undefined) cache.busLabels.set(name, (labels = Object.freeze({ name })));
    out.add(`${prefix}event_bus_handler_patterns`, 'gauge', 'Distinct handler patterns (buses of the exporting thread).', '{pattern}', labels, l.p, true);
    out.add(`${prefix}event_bus_handlers`, 'gauge', 'Handlers over all patterns (buses of the exporting thread).', '{handler}', labels, l.h, true);
    out.add(`${prefix}event_bus_broadcast_receivers`, 'gauge', 'Open broadcast receivers (buses of the exporting thread).', '{receiver}', labels, l.r, true);
  }
  // User metrics (counter, gauge, histogram): exported under their own names, never
  // prefixed; their names cannot start with atomic_stats_, so they never merge into the
  // families above.
  return [...out.list(), ...collectMetricKinds(registry, records)];
}
