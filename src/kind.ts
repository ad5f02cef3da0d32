/*
 * What a kind of entry is, as the registry core and the collector know it: a descriptor.
 * The kinds themselves (counter sets, the stats structs, the circuit breaker, the metric
 * kinds) sit above the core, each in its own module, which exports its one descriptor
 * beside the `open` that the façade's method calls; kind-table.ts lists them, and the
 * façade hands that table to the core. So the core knows kinds only through this type:
 * it checks a record against the descriptor its signature names, and a collection runs
 * the record's collector, without importing any kind.
 *
 * The types are generic in the registry object `R` a collector reads through, because
 * this module lies below the core (the core imports it) and so cannot name the core's
 * class; the core instantiates them with itself (`Kind` in registry-core.ts).
 *
 * A collector works in two steps because a scrape must stay cheap: `prepare` runs once
 * per record and registry object (it parses, names and builds the read-only views and
 * frozen label objects; export/collect.ts says why the same label object matters), and
 * the function it returns runs at every scrape and only reads cells.
 */
import type { RecordInfo } from './directory.js';
import type { MetricFamily, MetricSample, MetricType } from './family.js';

/** What the registry core needs of a kind to check a record of it: the core's part of a descriptor. */
export interface KindSpec {
  /** The kind's name, as its entries' signatures carry it. */
  readonly name: string;
  /**
   * Stored in each record of the kind, next to the name in its signature. A code is in
   * shared memory, so once given it is never reused for another kind.
   */
  readonly code: number;
  /**
   * The data bytes an entry with this descriptor (the signature without its kind) needs
   * on a registry of `stripes` stripes, or why the descriptor describes no such entry.
   * `undefined`: the kind checks its own descriptors, and every read against the record's
   * data bytes, when an entry is opened (the metric kinds do; kinds/metric-base.ts).
   */
  dataBytes(descriptor: Readonly<Record<string, unknown>>, stripes: number): number | string | undefined;
  /**
   * Thread `id` has stopped (its Worker's 'exit' event, slots.ts): hands back what it held
   * in flight in the record whose data is at `dataOffset` (a metric family's claims:
   * kinds/claims.ts). Must check the record before writing it.
   */
  threadEnded?(i32: Int32Array, descriptor: Readonly<Record<string, unknown>>, dataOffset: number, dataBytes: number, id: number): void;
}

/** A kind of entry: one row of the table of kinds (kind-table.ts). */
export interface EntryKind<R> extends KindSpec {
  /** How its records are exported by `collect()`; a kind without one is not exported. */
  readonly collector?: EntryCollector<R>;
  /**
   * Gets or creates an entry of the kind: the body of the façade's method for it, with
   * arguments of its own after the registry object. Absent for a kind whose entries are
   * made by another (a metric's labelled series, by its family).
   */
  readonly open?: (registry: R, ...args: never[]) => unknown;
}

/** A directory record whose signature parses and fits the record's data. */
export interface CheckedRecord<K extends KindSpec = KindSpec> extends RecordInfo {
  /** The kind its signature names (the row of the table the record was checked against). */
  readonly entryKind: K;
  /** That kind's name. */
  readonly kindName: string;
  /** The signature without its kind, frozen deeply (shared by every listing that meets the same text). */
  readonly descriptor: Readonly<Record<string, unknown>>;
}

/** A family of a user's metric, as its collector starts it (its samples follow). */
export type FamilyHead = Omit<MetricFamily, 'samples'>;

/** Where a collector puts its samples. */
export interface FamilySink {
  /** Adds one sample to the built-in family `name`, creating the family on first use. */
  add(name: string, type: MetricType, help: string, unit: string, labels: Readonly<Record<string, string>>, value: bigint | number, integer?: boolean): void;
  /** The samples array of the built-in family `name` (created on first use), for collectors that push many. */
  samples(name: string, type: MetricType, help: string, unit: string, integer: boolean): MetricSample[];
  /**
   * The samples of a user's family, which is exported under exactly its own name, in a
   * section of its own after the built-in families (never merged with one of the same
   * name), in the order of these calls.
   */
  userFamily(head: FamilyHead): MetricSample[];
  /** The samples of the user's family `name`, for its series: exported if its family is. */
  userSeries(name: string): MetricSample[];
}

/** One kind's collector; see the header. */
export interface EntryCollector<R> {
  /**
   * Reads what never changes about `record` (a record this kind's signature check passed)
   * and returns what emits its samples at each scrape, or `undefined` to skip the record
   * (a descriptor this version does not read: skipped, never guessed at).
   */
  prepare(registry: R, prefix: string, record: CheckedRecord): ((out: FamilySink) => void) | undefined;
}
