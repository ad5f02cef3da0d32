/*
 * A record's signature: the JSON text, written once by the entry's creator, that says
 * what the entry is (`{"kind": <name>, ...descriptor}`). Every thread reads it back from
 * shared memory, so it is parsed like input from a stranger: it must be a JSON object
 * naming a kind of the registry's table (kind.ts), whose code the record carries, and
 * whose data size (the kind's `dataBytes`) is exactly the record's, so that readers built
 * from the signature stay inside the record's own cells. Whatever fails is a reason, a
 * string, which the registry reports as a corrupt record.
 *
 * A parse is kept from one listing to the next by its text (RegistryCore.checkedRecords),
 * so what it returns is frozen, deeply: the same descriptor object is shared by every
 * listing that meets the same text, and handed out by entries().
 */
import type { RecordInfo } from './directory.js';
import type { CheckedRecord, KindSpec } from './kind.js';

/**
 * A signature text parsed and checked as far as it can be without its record: the kind
 * is known and the described entry's data size follows (`expected`: bytes, a reason the
 * descriptor is unsound, or undefined when the kind checks its own data).
 */
export interface ParsedSignature<K extends KindSpec> {
  readonly kind: K;
  readonly descriptor: Readonly<Record<string, unknown>>;
  readonly expected: number | string | undefined;
}

/** `signature` parsed against the kinds of a registry of `stripes` stripes, or why it describes no entry. */
export function parseSignature<K extends KindSpec>(signature: string, stripes: number, kinds: ReadonlyMap<string, K>): ParsedSignature<K> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(signature);
  } catch {
    return 'its signature is not JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'its signature is not a JSON object';
  const { kind: name, ...descriptor } = parsed as Record<string, unknown>;
  const kind = typeof name === 'string' ? kinds.get(name) : undefined;
  if (kind === undefined) return `unknown kind ${JSON.stringify(name)}`;
  return { kind, descriptor: deepFreeze(descriptor), expected: kind.dataBytes(descriptor, stripes) };
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * The record with its parsed signature, or why the signature does not describe the
 * record: the kind must match the record's kind code, and the data must have exactly
 * the size the described entry needs.
 */
export function checkRecord<K extends KindSpec>(r: RecordInfo, p: ParsedSignature<K> | string): CheckedRecord<K> | string {
  if (typeof p === 'string') return p;
  if (p.kind.code !== r.kind) return `kind code ${r.kind} does not match the kind ${p.kind.name}`;
  if (typeof p.expected === 'string') return p.expected;
  if (p.expected !== undefined && r.dataBytes !== p.expected) return `${r.dataBytes} data bytes, where a ${p.kind.name} like this one needs ${p.expected}`;
  // Spelt out rather than spread: a listing makes one per record, and a literal of fixed
  // shape costs a fraction of a spread's copy.
  return {
    slot: r.slot,
    offset: r.offset,
    name: r.name,
    kind: r.kind,
    signature: r.signature,
    dataOffset: r.dataOffset,
    dataBytes: r.dataBytes,
    entryKind: p.kind,
    kindName: p.kind.name,
    descriptor: p.descriptor,
  };
}

/** A signature as a conflict's message shows it: `a <kind> {descriptor}`, or the text itself when it is not JSON. */
export function describeSignature(signature: string): string {
  try {
    const d = JSON.parse(signature) as Record<string, unknown>;
    const { kind, ...rest } = d;
    return `a ${String(kind)} ${JSON.stringify(rest)}`;
  } catch {
    return signature;
  }
}
