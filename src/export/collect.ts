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
 * The kinds. The collector imports no kind: each record carries the row of the table of
 * kinds its signature named (kind-table.ts, held by the registry object), and the row's
 * collector prepares it. A kind without a collector, or a record it does not read (a
 * descriptor of another version: sets/records.ts on untrusted field lists), is skipped,
 * never guessed at. Users' metric families (counter, gauge, histogram) are prepared
 * once per record like every other kind's (kinds/series.ts), and exported under their
 * own names in a section of their own after the built-in families.
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
import type { MetricFamily, MetricSample, MetricType } from '../family.js';
import type { CheckedRecord, FamilyHead, FamilySink } from '../kind.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { type CollectOptions, checkCollectOptions } from './options.js';

export type { Exemplar, HistogramValue, MetricFamily, MetricSample, MetricType, SummaryValue } from '../family.js';

export { type CollectOptions, checkCollectOptions, sanitizeName } from './options.js';

const NO_LABELS = Object.freeze({}) as Readonly<Record<string, string>>;

// ---- families ----------------------------------------------------------------------------

interface MutableFamily {
  name: string;
  help: string;
  type: MetricType;
  unit?: string;
  integer?: boolean;
  samples: MetricSample[];
}

// Built-in families by name, in first-seen order; users' families apart, in the order
// their records started them.
class Families implements FamilySink {
  readonly byName = new Map<string, MutableFamily>();
  private readonly userHeads: FamilyHead[] = [];
  private readonly userSamples = new Map<string, MetricSample[]>();
  family(name: string, type: MetricType, help: string, unit: string, integer: boolean): MutableFamily {
    let f = this.byName.get(name);
    if (f === undefined) {
      f = { name, help, type, unit, integer, samples: [] };
      this.byName.set(name, f);
    }
    return f;
  }
  samples(name: string, type: MetricType, help: string, unit: string, integer: boolean): MetricSample[] {
    return this.family(name, type, help, unit, integer).samples;
  }
  add(name: string, type: MetricType, help: string, unit: string, labels: Readonly<Record<string, string>>, value: bigint | number, integer = typeof value === 'bigint'): void {
    this.family(name, type, help, unit, integer).samples.push({ labels, value });
  }
  userFamily(head: FamilyHead): MetricSample[] {
    this.userHeads.push(head);
    return this.userSeries(head.name);
  }
  userSeries(name: string): MetricSample[] {
    let samples = this.userSamples.get(name);
    if (samples === undefined) this.userSamples.set(name, (samples = []));
    return samples;
  }
  list(): MetricFamily[] {
    const out: MetricFamily[] = [...this.byName.values()];
    // A series whose family's record this listing does not hold (published a moment after
    // the series' own, or unreadable) has no head, and is not exported.
    for (const h of this.userHeads) {
      const samples = this.userSamples.get(h.name)!;
      // Literals, not spreads: one per family and scrape, and a spread's copy costs several times a literal.
      const { name, help, type, integer, unit } = h;
      out.push(unit === undefined ? { name, help, type, integer, samples } : { name, help, type, integer, samples, unit });
    }
    return out;
  }
}

// ---- per-record caches -----------------------------------------------------------------

interface RecordCache {
  readonly name: string;
  /** Emits the record's samples; undefined: the record is skipped. */
  readonly emit: ((out: FamilySink) => void) | undefined;
}

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

function prepare(registry: RegistryCore, prefix: string, record: CheckedRecord<Kind>): RecordCache {
  const collector = record.entryKind.collector;
  return { name: record.name, emit: collector === undefined ? undefined : collector.prepare(registry, prefix, record) };
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
      c = prepare(registry, prefix, record);
      cache.records.set(record.offset, c);
    }
    c.emit?.(out);
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
  // Users' metric families (counter, gauge, histogram) come last, under their own names,
  // never prefixed, and apart from the built-in families: with a custom prefix a name may
  // equal one of those, and the two are still two families.
  return out.list();
}
