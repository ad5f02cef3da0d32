/*
 * How a metric family and its labelled series are collected.
 *
 * A family (a counter, gauge, histogram or summary) is one directory record; its labelled
 * series live in the family's own series table (series-table.ts), not in directory
 * records. A scrape exports a family, even one with no series yet, from its record,
 * prepared once per record like every other kind's: a family kind's collector is a
 * FamilyCollector, whose `prepare` opens the family's Metric from the record's definition
 * once, and the Metric emits the family and every live series at each scrape (with a
 * frozen label object per series that stays the same from one scrape to the next while
 * the series lives). User families go to a section of their own (FamilySink's
 * userFamily), after the built-in families, in the order their records were published.
 *
 * The kind `metricSeries` (code 9) named the records that held one labelled series each
 * before series tables: its code stays taken, and a record of it is skipped.
 */
import type { CheckedRecord, EntryCollector, FamilySink } from '../kind.js';
import type { Kind, RegistryCore } from '../registry-core.js';

type Emit = (out: FamilySink) => void;

/** What a family's collector needs of its Metric (metric-base.ts implements it). */
export interface FamilyReader {
  /** Emits the family and its series at each scrape; `prefix` names built-in families it adds (stale writes). */
  familyEmitter(prefix: string): Emit;
  /** prom-client's reset (metric-base.ts). */
  reset(): void;
}

/** The collector of a metric family kind, opening each family through the kind's `open`. */
export class FamilyCollector implements EntryCollector<RegistryCore> {
  constructor(private readonly open: (registry: RegistryCore, definition: Record<string, unknown>) => FamilyReader) {}

  /**
   * The family of `record` (a record of this collector's kind), opened in this thread from
   * the definition its signature carries, or undefined when that definition does not
   * validate (a record this version cannot read is skipped, not guessed at).
   */
  family(registry: RegistryCore, record: CheckedRecord): FamilyReader | undefined {
    try {
      return this.open(registry, { ...record.descriptor, name: record.name });
    } catch {
      return undefined;
    }
  }

  prepare(registry: RegistryCore, prefix: string, record: CheckedRecord): Emit | undefined {
    return this.family(registry, record)?.familyEmitter(prefix);
  }
}

/** The labelled series' former kind: no longer written, its records skipped (see the header). */
export const metricSeriesKind = {
  name: 'metricSeries',
  code: 9,
  dataBytes: () => undefined,
  collector: {
    prepare: () => undefined,
  },
} satisfies Kind;
