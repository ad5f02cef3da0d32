/*
 * The counter sets' kind: `registry.counters(name, fields, options)` gets or creates a
 * named set of u64 counters (counter-set.ts), and a scrape exports each set as one
 * counter family, `<prefix>set_<name>_total`, with a `field` label per field
 * (export/collect.ts explains why one family per set).
 */
import { setGeometry } from '../layout.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { bool, checkFields, checkName, checkOptionsObject } from '../validate.js';
import { CounterSet } from './counter-set.js';
import { counterViews, parseFields, setBytes } from './records.js';

export interface CounterSetOptions {
  /**
   * Give each thread its own stripe of the set (summed on read), like Java's LongAdder:
   * no contention between threads and, for a thread with a stripe of its own, no atomic
   * read-modify-write at all. Costs `stripes + 1` 128-byte blocks per set. Default false.
   * Use it for counters on a hot path: an unstriped `inc` is a 64-bit atomic add, a call
   * into Wasm with the default backend and a BigInt `Atomics.add` with `backend: 'js'`,
   * while a striped one is a plain load and store (measured on Node 20: about 5x cheaper
   * with the 'js' backend, 4x with 'auto').
   */
  striped?: boolean;
}

export const countersKind = {
  name: 'counters',
  code: 1,
  dataBytes: setBytes,
  collector: {
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
  },

  /** The body of `StatsRegistry.counters`. */
  open<const F extends string>(registry: RegistryCore, name: string, fields: readonly F[], options?: CounterSetOptions): CounterSet<F> {
    registry.checkOpen();
    checkName(name);
    checkFields(fields);
    const o = checkOptionsObject(options, ['striped'], 'options');
    const striped = bool(o, 'striped', false);
    const geometry = setGeometry(fields.length, striped, registry.stripes);
    return registry.openEntry(name, countersKind, { fields: [...fields], striped }, geometry.dataBytes, (dataOffset) =>
      new CounterSet<F>(registry.ops.cells, { setName: name, dataOffset, geometry, ownedStripe: registry.ownedStripe(striped) }, fields),
    );
  },
} satisfies Kind;
