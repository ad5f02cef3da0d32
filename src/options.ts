import { InvalidOptionsError, describe } from './errors.js';

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
