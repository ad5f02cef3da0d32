/*
 * What every set-shaped record shares: a counter set, and every stats struct (a counter
 * set of fixed fields), is a record whose descriptor holds its field list and striping,
 * and whose cells follow from both (layout.ts setGeometry). Their kinds check a record's
 * size and read its cells through these functions.
 *
 * Untrusted input. Field lists come from the shared memory (a signature any thread wrote):
 * a record whose signature is not the JSON this version writes (an array of distinct
 * strings, at most MAX_FIELDS) is skipped rather than guessed at, and field names are only
 * ever used as Map keys or label values, never as plain-object keys, so `__proto__`,
 * `constructor` and the like are exported exactly like any other field.
 */
import { setGeometry } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';
import { checkFields } from '../validate.js';
import { type Counter, CounterSet } from './counter-set.js';

/**
 * A kind's `dataBytes` for a set-shaped descriptor: the fields must be a valid list and
 * the striping a boolean; the set's cells follow from both.
 */
export function setBytes(d: Readonly<Record<string, unknown>>, stripes: number): number | string {
  try {
    checkFields(d.fields);
  } catch {
    return 'its field list is not valid';
  }
  if (typeof d.striped !== 'boolean') return 'its striping is not a boolean';
  return setGeometry((d.fields as string[]).length, d.striped, stripes).dataBytes;
}

/** The longest field list a counter-set signature may carry before it is judged corrupt. */
const MAX_FIELDS = 4096;

/** A descriptor's field list, or undefined when it is not an array of distinct strings. */
export function parseFields(d: { fields?: unknown }): string[] | undefined {
  const f = d.fields;
  if (!Array.isArray(f) || f.length === 0 || f.length > MAX_FIELDS) return undefined;
  if (!f.every((x) => typeof x === 'string')) return undefined;
  if (new Set(f).size !== f.length) return undefined;
  return f as string[];
}

/**
 * Read-only counter views of a record's cells, or undefined when the cells the signature
 * describes would not lie inside the record's data and the memory (a corrupt or foreign
 * record: skipped, never read out of bounds).
 */
export function counterViews(registry: RegistryCore, record: { name: string; dataOffset: number; dataBytes: number }, fields: readonly string[], striped: boolean): Counter[] | undefined {
  const geometry = setGeometry(fields.length, striped, registry.stripes);
  const { dataOffset, dataBytes } = record;
  if (dataOffset % 8 !== 0 || geometry.dataBytes > dataBytes || dataOffset + dataBytes > registry.views.u8.byteLength) return undefined;
  // ownedStripe -1: this view only reads; it never writes a stripe.
  const set = new CounterSet(registry.ops.cells, { setName: record.name, dataOffset, geometry, ownedStripe: -1 }, fields);
  return fields.map((f) => set.counter(f));
}
