/*
 * How a kind of entry is collected: the one interface collect.ts knows kinds through,
 * and the helpers the built-in kinds share. Each kind's collector lives in its own folder
 * (stats/collect.ts, breaker/collect.ts; counter sets in counter-sets.ts here) and
 * collect.ts lists them in one table, so adding a kind adds a collector and a row there.
 *
 * A collector works in two steps because a scrape must stay cheap: `prepare` runs once
 * per record and attachment (it parses, names and builds the read-only views and frozen
 * label objects, see collect.ts on why the same label object matters), and the function
 * it returns runs at every scrape and only reads cells.
 */
import type { Counter } from '../counter-set.js';
import { CounterSet } from '../counter-set.js';
import { setGeometry } from '../layout.js';
import type { CheckedRecord, RegistryCore } from '../registry-core.js';
import type { MetricSample, MetricType } from './family.js';

/** @internal Where a collector puts its samples: families by name, in first-seen order. */
export interface FamilySink {
  /** Adds one sample to family `name`, creating the family on first use. */
  add(name: string, type: MetricType, help: string, unit: string, labels: Readonly<Record<string, string>>, value: bigint | number, integer?: boolean): void;
  /** The samples array of family `name` (created on first use), for collectors that push many. */
  samples(name: string, type: MetricType, help: string, unit: string, integer: boolean): MetricSample[];
}

/** @internal One kind's collector; see the header. */
export interface EntryCollector {
  /**
   * Reads what never changes about `record` (a record this kind's signature check passed)
   * and returns what emits its samples at each scrape, or `undefined` to skip the record
   * (a descriptor this version does not read: skipped, never guessed at).
   */
  prepare(registry: RegistryCore, prefix: string, record: CheckedRecord): ((out: FamilySink) => void) | undefined;
}

/** @internal How a stored count becomes an exported value: as it is, or ms / ns to seconds. */
export type Conv = 'count' | 'ms' | 'ns';

/** @internal One exported family of a fixed-field entry, and the field it reads. */
export interface Row {
  /** Family name after the prefix. */
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  /** Index of the source field in the entry's field list, and the label it adds. */
  readonly field: number;
  readonly conv: Conv;
  readonly outcome?: string;
}

/** @internal Counts stay exact bigints; durations become seconds (doubles, see collect.ts). */
export const convert = (v: bigint, conv: Conv): bigint | number => (conv === 'count' ? v : conv === 'ms' ? Number(v) / 1e3 : Number(v) / 1e9);

/** The longest field list a counter-set signature may carry before it is judged corrupt. */
const MAX_FIELDS = 4096;

/** @internal A descriptor's field list, or undefined when it is not an array of distinct strings. */
export function parseFields(d: { fields?: unknown }): string[] | undefined {
  const f = d.fields;
  if (!Array.isArray(f) || f.length === 0 || f.length > MAX_FIELDS) return undefined;
  if (!f.every((x) => typeof x === 'string')) return undefined;
  if (new Set(f).size !== f.length) return undefined;
  return f as string[];
}

/**
 * @internal Read-only counter views of a record's cells, or undefined when the cells the
 * signature describes would not lie inside the record's data and the memory (a corrupt or
 * foreign record: skipped, never read out of bounds).
 */
export function counterViews(registry: RegistryCore, record: { name: string; dataOffset: number; dataBytes: number }, fields: readonly string[], striped: boolean): Counter[] | undefined {
  const geometry = setGeometry(fields.length, striped, registry.stripes);
  const { dataOffset, dataBytes } = record;
  if (dataOffset % 8 !== 0 || geometry.dataBytes > dataBytes || dataOffset + dataBytes > registry.views.u8.byteLength) return undefined;
  // ownedStripe -1: this view only reads; it never writes a stripe.
  const set = new CounterSet(registry.ops, { setName: record.name, dataOffset, geometry, ownedStripe: -1 }, fields);
  return fields.map((f) => set.counter(f));
}
