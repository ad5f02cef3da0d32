/*
 * The labelled series of the metric kinds, and how a family and its series are collected.
 *
 * A family (a counter, gauge or histogram) is one directory record; each labelled series
 * of it is a record of its own, of the kind `metricSeries`, named `family{a="x",...}`
 * (labels.ts) with the signature {kind, of, family, labels} (metric-base.ts creates them).
 * A scrape exports a family, even one with no series yet, from its own record, and each
 * series from the series' record, both prepared once per record like every other kind's:
 *   - a family kind's collector is a FamilyCollector: its `prepare` opens the family's
 *     Metric from the record's definition once, and emits the family at each scrape;
 *   - a series' collector finds its family's record by the name its signature gives,
 *     asks that record's collector (which must be a FamilyCollector) for the Metric, and
 *     lets the Metric judge the series record once (its signature must name this family
 *     and kind with exactly its label names, and the record must be big enough for its
 *     cells; metric-base.ts seriesMeta): then it appends one sample at each scrape.
 * So the series kind knows no metric kind: a new one (a summary, say) only makes its
 * collector a FamilyCollector. User families go to a section of their own (FamilySink's
 * userFamily / userSeries), after the built-in families, in the order their records were
 * published, each with its series in theirs.
 */
import type { RecordInfo } from '../directory.js';
import type { CheckedRecord, EntryCollector, FamilySink } from '../kind.js';
import type { Kind, RegistryCore } from '../registry-core.js';

type Emit = (out: FamilySink) => void;

/** What a family's collector needs of its Metric (metric-base.ts implements it). */
export interface FamilyReader {
  /** Emits the family (and an unlabelled metric's one sample) at each scrape. */
  familyEmitter(): Emit;
  /** Emits one series record's sample at each scrape, or undefined when the record is not one of this family's series. */
  seriesEmitter(record: RecordInfo): Emit | undefined;
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

  prepare(registry: RegistryCore, _prefix: string, record: CheckedRecord): Emit | undefined {
    return this.family(registry, record)?.familyEmitter();
  }
}

/** The family a series record's signature names, or undefined when there is no readable one. */
function familyOf(registry: RegistryCore, name: unknown): FamilyReader | undefined {
  if (typeof name !== 'string') return undefined;
  const r = registry.directory.find(name);
  if (r === undefined) return undefined;
  const checked = registry.checkedRecord(r);
  if (typeof checked === 'string') return undefined;
  const collector = checked.entryKind.collector;
  return collector instanceof FamilyCollector ? collector.family(registry, checked) : undefined;
}

/** The labelled series' kind. Series are made by their family's Metric, never opened by name. */
export const metricSeriesKind = {
  name: 'metricSeries',
  code: 9,
  // Checked by the family that reads the series (seriesMeta), against its own layout.
  dataBytes: () => undefined,
  collector: {
    prepare(registry, _prefix, record) {
      return familyOf(registry, record.descriptor.family)?.seriesEmitter(record);
    },
  },
} satisfies Kind;
