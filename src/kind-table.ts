/*
 * Every kind of directory entry, in one table: the code stored in each record, and how a
 * record's signature says how many data bytes the entry needs. The registry core reads a
 * record only through this table (checkSignature in registry-core.ts), so it knows no
 * kind's module; a kind's own folder holds how it is opened and collected.
 *
 * Adding a kind: its folder (how it is opened, and its collector), one row here, one in
 * export/collect.ts's COLLECTORS, and its method on StatsRegistry. A code is stored in
 * shared memory, so a code, once given, is never reused for another kind.
 *
 * This module sits at the bottom layer with the layouts it reads: it imports geometry
 * functions only, never a kind's module, so nothing that imports the registry core is
 * imported back by it.
 */
import { breakerGeometry } from '../breaker/layout.js';
import { setGeometry } from '../layout.js';
import { checkFields } from '../validate.js';

/** How the registry checks a record of one kind before anything reads its cells. */
export interface EntryKindSpec {
  /** Stored in each record of the kind, next to the kind's name in its signature. */
  readonly code: number;
  /**
   * The data bytes an entry with this descriptor (the signature without its kind) needs
   * on a registry of `stripes` stripes, or why the descriptor describes no such entry.
   * `undefined`: the kind checks its own descriptors, and every read against the record's
   * data bytes, when an entry is opened (the metric kinds do; kinds/metric-base.ts).
   */
  dataBytes(descriptor: Readonly<Record<string, unknown>>, stripes: number): number | string | undefined;
}

// A counter set, and every stats struct (a counter set of fixed fields): the fields must
// be a valid list and the striping a boolean; the set's cells follow from both.
function setBytes(d: Readonly<Record<string, unknown>>, stripes: number): number | string {
  try {
    checkFields(d.fields);
  } catch {
    return 'its field list is not valid';
  }
  if (typeof d.striped !== 'boolean') return 'its striping is not a boolean';
  return setGeometry((d.fields as string[]).length, d.striped, stripes).dataBytes;
}

const checkedByKind = (_descriptor: Readonly<Record<string, unknown>>, _stripes: number): undefined => undefined;

/** The kinds, by the name their signatures carry. */
export const ENTRY_KINDS = {
  counters: { code: 1, dataBytes: setBytes },
  stepExecutionStats: { code: 2, dataBytes: setBytes },
  eventBusStats: { code: 3, dataBytes: setBytes },
  workerSubscriberStats: { code: 4, dataBytes: setBytes },
  // The rate window's ring is there only when the policy is on (breaker/layout.ts).
  circuitBreaker: { code: 5, dataBytes: (d, stripes) => breakerGeometry(stripes, d.windowMs !== null && d.windowMs !== undefined).dataBytes },
  counter: { code: 6, dataBytes: checkedByKind },
  gauge: { code: 7, dataBytes: checkedByKind },
  histogram: { code: 8, dataBytes: checkedByKind },
  /** One labelled series of a counter, gauge or histogram family. */
  metricSeries: { code: 9, dataBytes: checkedByKind },
} as const satisfies Record<string, EntryKindSpec>;

/** The name of a kind of entry, as its signatures carry it. */
export type EntryKind = keyof typeof ENTRY_KINDS;

type Codes<K extends EntryKind> = { readonly [P in K]: (typeof ENTRY_KINDS)[P]['code'] };

function codesOf<K extends EntryKind>(kinds: readonly K[]): Codes<K> {
  return Object.freeze(Object.fromEntries(kinds.map((k) => [k, ENTRY_KINDS[k].code]))) as Codes<K>;
}

/** Kind codes stored in each record (the signature carries the kind's name too). */
export const KIND_CODES = codesOf(Object.keys(ENTRY_KINDS) as EntryKind[]);

/** The metric kinds' codes (kinds/), the ones that check their own descriptors. */
export const METRIC_KIND_CODES = codesOf(['counter', 'gauge', 'histogram', 'metricSeries'] as const);
