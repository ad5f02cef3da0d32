/**
 * Every error atomic-stats throws on purpose is an {@link AtomicStatsError}; each kind of
 * mistake has its own subclass and a stable `code`, so callers can branch with
 * `instanceof` or on `err.code`. A call that throws one of these has changed nothing.
 */
export class AtomicStatsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A count given to `add` (or a duration, an error count) that is not a safe non-negative integer. */
export class InvalidCountError extends AtomicStatsError {
  readonly value: unknown;
  constructor(value: unknown, reason: string) {
    super('ERR_INVALID_COUNT', `invalid count ${describe(value)}: ${reason}`);
    this.value = value;
  }
}

/** A field name that is not part of the counter set. */
export class UnknownFieldError extends AtomicStatsError {
  readonly field: unknown;
  readonly setName: string;
  constructor(setName: string, field: unknown, known: readonly string[]) {
    super('ERR_UNKNOWN_FIELD', `unknown field ${describe(field)} in "${setName}" (fields: ${known.join(', ')})`);
    this.field = field;
    this.setName = setName;
  }
}

/** A name already registered with another kind, another field list, striping or config. */
export class NameConflictError extends AtomicStatsError {
  readonly entryName: string;
  constructor(entryName: string, existing: string, requested: string) {
    super(
      'ERR_NAME_CONFLICT',
      `"${entryName}" is already registered as ${existing}; cannot reuse it as ${requested}`,
    );
    this.entryName = entryName;
  }
}

/** The registry's fixed memory (or its directory) has no room for another entry. */
export class RegistryFullError extends AtomicStatsError {
  constructor(message: string) {
    super('ERR_REGISTRY_FULL', message);
  }
}

/** An option, a name or a config value that is out of range or of the wrong type. */
export class InvalidOptionsError extends AtomicStatsError {
  /** The option or argument at fault, e.g. `"stripes"` or `"failureThreshold"`. */
  readonly option: string;
  constructor(option: string, message: string) {
    super('ERR_INVALID_OPTIONS', `${option}: ${message}`);
    this.option = option;
  }
}

/** A value passed to `StatsRegistry.attach` that is not a handle of a compatible registry. */
export class InvalidHandleError extends AtomicStatsError {
  constructor(message: string) {
    super('ERR_INVALID_HANDLE', `not an atomic-stats registry handle: ${message}`);
  }
}

/**
 * A number read (`value()`, `snapshot()`) of a counter above 2^53 - 1, which a JS number
 * cannot hold exactly. The counter is fine: read it with `valueBigInt()` / `snapshotBigInt()`.
 */
export class UnsafeIntegerError extends AtomicStatsError {
  readonly field: string;
  constructor(setName: string, field: string) {
    super(
      'ERR_UNSAFE_INTEGER',
      `"${setName}".${field} is above Number.MAX_SAFE_INTEGER and cannot be returned as a number without rounding; use the BigInt read`,
    );
    this.field = field;
  }
}

/**
 * A method called on a registry object after its `close()` (or `[Symbol.dispose]()`).
 * Handles opened through it before that keep working (on the shared stripe); open new
 * ones through another registry object, e.g. a new `StatsRegistry.attach(handle)`.
 */
export class RegistryClosedError extends AtomicStatsError {
  constructor() {
    super('ERR_REGISTRY_CLOSED', 'this registry object was closed; attach again to open new entries');
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'symbol') return value.toString();
  return Object.prototype.toString.call(value);
}
