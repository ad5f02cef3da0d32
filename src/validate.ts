/*
 * Argument checks shared by every part of the package, at the bottom layer: this module
 * imports only the errors, the layout constants and the UTF-8 encoder, so the registry,
 * the kinds and the components all check names, fields and options the same way without
 * importing each other. Each check either returns the value it was given (narrowed) or
 * throws an InvalidOptionsError naming the option; none has a side effect, so a call
 * rejected here has changed nothing.
 *
 * Per-call value checks on hot paths (counts, durations) are not here: they stay inline
 * in their methods, with a slow path in count.ts.
 */
import type { BackendKind } from './backend.js';
import { utf8 } from './directory.js';
import { InvalidOptionsError, describe } from './errors.js';
import { MAX_NAME_BYTES } from './layout.js';

/**
 * The check every options object of the package goes through: an object (not null, not
 * an array) whose keys are all known, so a misspelt option is an InvalidOptionsError
 * naming it rather than a silently ignored key. `undefined` is `{}` unless `required`.
 */
export function checkOptionsObject(
  value: unknown,
  allowed: readonly string[],
  what: string,
  { required = false, shape = 'must be an object' }: { required?: boolean; shape?: string } = {},
): Record<string, unknown> {
  if (value === undefined && !required) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionsError(what, `${shape}, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new InvalidOptionsError(key, `unknown option (known: ${allowed.join(', ')})`);
  }
  return value as Record<string, unknown>;
}

/*
 * One message form per check, whatever the option: `<option>: must be an integer from
 * <min> to <max>, got <value>` and `<option>: must be a boolean, got <value>`. The value is
 * printed by describe(), never by String() or a template: a user's toString may throw or
 * lie, and the error must still be an InvalidOptionsError that names the option.
 */

/** An integer from `min` to `max`, or InvalidOptionsError naming `what`. */
export function checkIntIn(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(what, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A power of two from `min` to `max` (both powers of two), or InvalidOptionsError naming `what`. */
export function checkPowerOfTwoIn(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max || (value & (value - 1)) !== 0) {
    throw new InvalidOptionsError(what, `must be a power of two from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A boolean, or InvalidOptionsError naming `what`. */
export function checkBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionsError(what, `must be a boolean, got ${describe(value)}`);
  return value;
}

/** Option `key` of `o`: `def` when absent, else an integer from `min` to `max`. */
export function intIn(o: Record<string, unknown>, key: string, def: number, min: number, max: number): number {
  const v = o[key];
  return v === undefined ? def : checkIntIn(v, key, min, max);
}

/** Option `key` of `o`: `def` when absent, else a boolean. */
export function bool(o: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = o[key];
  return v === undefined ? def : checkBool(v, key);
}

/** The `backend` option: `'auto'` when absent. */
export function checkBackend(value: unknown): BackendKind {
  if (value === undefined) return 'auto';
  if (value !== 'auto' && value !== 'wasm' && value !== 'js') {
    throw new InvalidOptionsError('backend', `must be 'auto', 'wasm' or 'js', got ${describe(value)}`);
  }
  return value;
}

/** An entry name: a non-empty, well-formed string of at most MAX_NAME_BYTES UTF-8 bytes. */
export function checkName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') throw new InvalidOptionsError(what, 'must be a string');
  if (name.length === 0) throw new InvalidOptionsError(what, 'must not be empty');
  // A lone surrogate has no UTF-8 form: encoding turns it into U+FFFD, so '\uD800',
  // '\uDC00' and '\uFFFD' would all name one entry.
  if (!(name as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidOptionsError(what, `must be well-formed UTF-16 (no lone surrogates), got ${JSON.stringify(name)}`);
  }
  if (utf8(name).length > MAX_NAME_BYTES) throw new InvalidOptionsError(what, `must be at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  return name;
}

const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Most fields a counter set may have. */
export const MAX_FIELDS = 64;

/** A counter set's field list: 1..MAX_FIELDS distinct identifiers of at most 64 characters. */
export function checkFields(fields: unknown): string[] {
  if (!Array.isArray(fields)) throw new InvalidOptionsError('fields', 'must be an array of field names');
  if (fields.length === 0 || fields.length > MAX_FIELDS) {
    throw new InvalidOptionsError('fields', `must hold 1..${MAX_FIELDS} names, got ${fields.length}`);
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (typeof f !== 'string' || !FIELD_RE.test(f) || f.length > 64) {
      throw new InvalidOptionsError('fields', `${describe(f)} is not a valid field name (letters, digits, _; not starting with a digit; at most 64)`);
    }
    if (seen.has(f)) throw new InvalidOptionsError('fields', `duplicate field ${describe(f)}`);
    seen.add(f);
  }
  return fields as string[];
}
