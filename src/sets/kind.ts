/*
 * How counter sets are exported: one counter family per set, `<prefix>set_<name>_total`,
 * with a `field` label per field (collect.ts explains why one family per set).
 */
import { type EntryCollector, counterViews, parseFields } from './entry-collector.js';

/** The counter sets' collector. */
export const counterSetCollector: EntryCollector = {
  prepare(registry, prefix, record) {
    const fields = parseFields(record.descriptor);
    if (fields === undefined) return undefined;
    // After `set_`, a leading digit is fine: no underscore added.
    let base = record.name.replace(/[^a-zA-Z0-9_:]/g, '_');
    if (base.endsWith('_total')) base = base.slice(0, -6);
    const counters = counterViews(registry, record, fields, record.descriptor.striped === true);
    if (counters === undefined) return undefined;
    const family = `${prefix}set_${base}_total`;
    const help = `Counter set "${record.name}", one series per field.`;
    const labels = fields.map((field) => Object.freeze({ set: record.name, field }));
    return (out) => {
      const samples = out.samples(family, 'counter', help, '1', true);
      for (let i = 0; i < counters.length; i++) samples.push({ labels: labels[i]!, value: counters[i]!.valueBigInt() });
    };
  },
};
