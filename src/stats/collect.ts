/*
 * How a stats struct is exported: one row per exported family, each reading one field of
 * the struct (its counter set), with the family's name, help and unit next to the fields
 * they describe. Each struct's module declares its rows and makes its collector here.
 */
import { type Row, convert } from '../export/entry-collector.js';
import type { EntryCollector } from '../kind.js';
import type { RegistryCore } from '../registry-core.js';
import { counterViews, parseFields } from '../sets/records.js';

/**
 * The collector of a struct of `fields`, exported as `rows`; `fold` turns the raw cells
 * into the values the rows index (the event bus folds its outcome cells in).
 */
export function structCollector(fields: readonly string[], rows: readonly Row[], fold?: (values: readonly bigint[]) => readonly bigint[]): EntryCollector<RegistryCore> {
  return {
    prepare(registry, prefix, record) {
      const stored = parseFields(record.descriptor);
      // The struct's own field list, exactly: anything else is not a struct this version reads.
      if (stored === undefined || stored.length !== fields.length || stored.some((f, i) => f !== fields[i])) return undefined;
      const counters = counterViews(registry, record, stored, record.descriptor.striped === true);
      if (counters === undefined) return undefined;
      const plain = Object.freeze({ name: record.name });
      const labels = rows.map((r) => (r.outcome === undefined ? plain : Object.freeze({ name: record.name, outcome: r.outcome })));
      const names = rows.map((r) => prefix + r.name);
      return (out) => {
        let values: readonly bigint[] = counters.map((k) => k.valueBigInt());
        if (fold !== undefined) values = fold(values);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          out.add(names[i]!, 'counter', r.help, r.unit, labels[i]!, convert(values[r.field]!, r.conv));
        }
      };
    },
  };
}
