/*
 * This thread's index of the labelled series records in a registry's directory, by
 * family, so that `metric.get()` reads its own series without decoding every record of
 * the registry (prom-client's registry calls get() on every metric at each scrape, which
 * would otherwise cost metrics × records).
 *
 * It relies on the directory's one rule (directory.ts): a slot goes from 0 to a record's
 * offset exactly once and never changes again, and the record behind it is complete and
 * immutable when published. So a slot seen non-zero is decoded once and never looked at
 * again; each call only loads the slots still empty (one atomic 32-bit load each), and
 * skips records of other kinds by their kind code, without decoding their strings.
 */
import type { RecordInfo } from '../directory.js';
import type { RegistryCore } from '../registry-core.js';
import { METRIC_KIND_CODES } from './codes.js';

interface SeriesIndex {
  /** Per directory slot: 1 once it was seen published. */
  readonly seen: Uint8Array;
  readonly byFamily: Map<string, RecordInfo[]>;
}

const indexes = new WeakMap<RegistryCore, SeriesIndex>();

/** The published series records of `family` (as named in their directory names), oldest first by slot. */
export function seriesRecordsOf(registry: RegistryCore, family: string): readonly RecordInfo[] {
  const directory = registry.directory;
  // The slot count this attachment checked at attach, never re-read from the header.
  const slots = directory.slotCount;
  let index = indexes.get(registry);
  if (index === undefined || index.seen.length !== slots) {
    index = { seen: new Uint8Array(slots), byFamily: new Map() };
    indexes.set(registry, index);
  }
  const { seen, byFamily } = index;
  for (let k = 0; k < slots; k++) {
    if (seen[k] === 1) continue;
    if (Atomics.load(registry.views.i32, (registry.directory.slotWordIndex + k)) === 0) continue;
    seen[k] = 1;
    // Bounds-checked head and decode (directory.ts); other kinds are skipped by their
    // kind code before anything is decoded, corrupt records are reported and skipped.
    const r = directory.recordAtSlot(k, METRIC_KIND_CODES.metricSeries);
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
