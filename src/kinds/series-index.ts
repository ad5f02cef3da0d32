/*
 * This thread's index of the labelled series records in a registry's directory, by
 * family, so that `metric.get()` reads its own series without decoding every record of
 * the registry (prom-client's registry calls get() on every metric at each scrape, which
 * would otherwise cost metrics × records).
 *
 * It reads the directory's published-records log through a cursor (directory.ts): each
 * slot is logged once, before a record is published in it, and a record once published
 * is complete and immutable, so each call reads only the log entries added since the
 * last one and those whose slot held no record yet (two atomic 32-bit loads each: the
 * entry, its slot), never the directory's slots, whose number grows with the capacity.
 * Records of other kinds are skipped by their kind code, without decoding their strings.
 */
import { PublishedCursor, type RecordInfo } from '../directory.js';
import type { RegistryCore } from '../registry-core.js';
import { metricSeriesKind } from './series.js';

interface SeriesIndex {
  readonly cursor: PublishedCursor;
  readonly byFamily: Map<string, RecordInfo[]>;
}

const indexes = new WeakMap<RegistryCore, SeriesIndex>();

/** The published series records of `family` (as named in their directory names), oldest first. */
export function seriesRecordsOf(registry: RegistryCore, family: string): readonly RecordInfo[] {
  const directory = registry.directory;
  let index = indexes.get(registry);
  if (index === undefined) {
    index = { cursor: new PublishedCursor(), byFamily: new Map() };
    indexes.set(registry, index);
  }
  const { cursor, byFamily } = index;
  for (const k of directory.newlyPublished(cursor)) {
    // Bounds-checked head and decode (directory.ts); other kinds are skipped by their
    // kind code before anything is decoded, corrupt records are reported and skipped.
    const r = directory.recordAtSlot(k, metricSeriesKind.code);
    if (r === undefined) continue;
    const brace = r.name.indexOf('{');
    if (brace <= 0) continue;
    const name = r.name.slice(0, brace);
    let list = byFamily.get(name);
    if (list === undefined) byFamily.set(name, (list = []));
    list.push(r);
  }
  return byFamily.get(family) ?? [];
}
