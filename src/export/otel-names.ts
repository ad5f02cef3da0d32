/*
 * OpenTelemetry instrument names of the families, and who owns a name when two families
 * map to one.
 *
 * The mapping (docs/exporting.md): a counter drops its Prometheus `_total` (an
 * OpenTelemetry Prometheus exporter adds it back), `:` (legal in Prometheus, not in an
 * instrument name) becomes `_`, and a name that does not start with a letter gets an `m`
 * in front. The mapping is not one-to-one: `a:b_total` and `a_b_total`, or a counter
 * `x_total` and a gauge or histogram `x`, are one instrument name. Two instruments of one
 * name in one scope are one metric stream to the SDK (observations of the second overwrite
 * the first's), and in different scopes still one family to a Prometheus backend, so a
 * collision is resolved here and not left to the SDK.
 *
 * The rule: the family that claims a name first keeps it, the others are skipped, each
 * with one process warning (ATOMIC_STATS_NAME_COLLISION) and listed in the export's
 * `skipped`: nothing is dropped silently. Both OpenTelemetry paths (observeAtomicStats, the
 * producer) claim over *every* family of each collection, in collect() order, whether or
 * not they export it, so that used side by side they decide alike and one name is never
 * sent by both. collect() lists the built-in families first, then the user metrics, each
 * in the order their entries were created, so between two user metrics the one created
 * first keeps the name, and a family created later never takes a name away from one
 * already exported. A decision is final for the life of the export.
 */
import type { MetricFamily } from '../family.js';
import { warnOnce } from './warn.js';

/** The instrument name of a family (see the header). */
export function instrumentName(f: Pick<MetricFamily, 'name' | 'type'>): string {
  const base = (f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name).replace(/:/g, '_');
  return /^[A-Za-z]/.test(base) ? base : `m${base}`;
}

/** Name ownership of one export; see the header. */
export interface NameClaims {
  /** Whether `f` may be exported under its instrument name (warns the first time it may not); final once said. */
  claim(f: MetricFamily): boolean;
  /** Names of the families skipped so far, in the order they were met. */
  readonly skipped: readonly string[];
}

export function nameClaims(): NameClaims {
  const owner = new Map<string, string>(); // instrument name -> family name
  const decided = new Map<string, boolean>(); // family name -> claim(), final
  const skipped = new Set<string>();
  return {
    claim(f) {
      const known = decided.get(f.name);
      if (known !== undefined) return known;
      const name = instrumentName(f);
      const o = owner.get(name);
      if (o === undefined) {
        owner.set(name, f.name);
        decided.set(f.name, true);
        return true;
      }
      decided.set(f.name, false);
      skipped.add(f.name);
      warnOnce(
        `opentelemetry:${f.name}:${o}`,
        `atomic-stats: the family "${f.name}" is not exported to OpenTelemetry: its instrument name "${name}" is that of the family "${o}", which keeps it. Rename one of the two.`,
        'ATOMIC_STATS_NAME_COLLISION',
      );
      return false;
    },
    get skipped() {
      return [...skipped];
    },
  };
}
