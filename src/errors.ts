/**
 * Every error atomic-stats throws on purpose is an {@link AtomicStatsError}; each kind of
 * mistake has its own subclass and a stable `code`, so callers can branch with
 * `instanceof` or on `err.code`. A call that throws one of these has changed nothing.
 *
 * Why `instanceof` is overridden. The package ships an ESM and a CJS build; a process that
 * loads both (an ESM app with a CJS dependency, say) holds two copies of every class, and a
 * prototype check fails across them: an error thrown by one copy is not `instanceof` the
 * other copy's class. So each error carries a brand under a registry symbol
 * (`Symbol.for`, the same symbol in every copy and every realm of the process): its
 * `code`. `x instanceof SomeError` is true when `x` carries the brand and, for a subclass,
 * when the brand equals that class's static `code`. A subclass that declares no static
 * `code` of its own falls back to the ordinary prototype check, so forgetting it can
 * never make the check over-match.
 */

/** Every `code` an {@link AtomicStatsError} can carry. */
export type ErrorCode =
  | 'ERR_INVALID_COUNT'
  | 'ERR_UNKNOWN_FIELD'
  | 'ERR_NAME_CONFLICT'
  | 'ERR_REGISTRY_FULL'
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_INVALID_HANDLE'
  | 'ERR_CORRUPT_REGISTRY'
  | 'ERR_UNSAFE_INTEGER'
  | 'ERR_CIRCUIT_OPEN'
  | 'ERR_CALL_TIMEOUT'
  | 'ERR_INVALID_PATTERN'
  | 'ERR_INVALID_EVENT'
  | 'ERR_HANDLER_FAILED'
  | 'ERR_RECEIVER_CLOSED'
  | 'ERR_CORRELATION_TIMEOUT'
  | 'ERR_COMPLETION_CONVERSION'
  | 'ERR_DUPLICATE_CORRELATION'
  | 'ERR_SUBSCRIBER_CLOSED'
  | 'ERR_REGISTRY_CLOSED'
  | 'ERR_CARDINALITY_LIMIT'
  | 'ERR_INVALID_LABELS'
  | 'ERR_INVALID_VALUE'
  | 'ERR_METRICS_SERVER'
  | 'ERR_THREAD_MONITOR'
  | 'ERR_BULKHEAD_FULL'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NOT_RESETTABLE';

const BRAND: unique symbol = Symbol.for('atomic-stats.error-code') as never;
const prototypeCheck = Function.prototype[Symbol.hasInstance];

export class AtomicStatsError extends Error {
  /**
   * The code shared by every error of this class (`undefined` on this base class, whose
   * `instanceof` matches every atomic-stats error).
   */
  static readonly code: ErrorCode | undefined = undefined;
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    Object.defineProperty(this, BRAND, { value: code });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== AtomicStatsError && !Object.prototype.hasOwnProperty.call(this, 'code')) return prototypeCheck.call(this, value);
    if (value === null || typeof value !== 'object') return false;
    const brand = (value as { [BRAND]?: unknown })[BRAND];
    if (typeof brand !== 'string') return false;
    const code = (this as { code?: string }).code;
    return code === undefined || code === brand;
  }
}

/** A count given to `add` (or a duration, an error count) that is not a safe non-negative integer. */
export class InvalidCountError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_COUNT';
  declare readonly code: 'ERR_INVALID_COUNT';
  readonly value: unknown;
  constructor(value: unknown, reason: string) {
    super(InvalidCountError.code, `invalid count ${describe(value)}: ${reason}`);
    this.value = value;
  }
}

/** A field name that is not part of the counter set. */
export class UnknownFieldError extends AtomicStatsError {
  static override readonly code = 'ERR_UNKNOWN_FIELD';
  declare readonly code: 'ERR_UNKNOWN_FIELD';
  readonly field: unknown;
  readonly setName: string;
  constructor(setName: string, field: unknown, known: readonly string[]) {
    super(UnknownFieldError.code, `unknown field ${describe(field)} in "${setName}" (fields: ${known.join(', ')})`);
    this.field = field;
    this.setName = setName;
  }
}

/** A name already registered with another kind, another field list, striping or config. */
export class NameConflictError extends AtomicStatsError {
  static override readonly code = 'ERR_NAME_CONFLICT';
  declare readonly code: 'ERR_NAME_CONFLICT';
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
  static override readonly code = 'ERR_REGISTRY_FULL';
  declare readonly code: 'ERR_REGISTRY_FULL';
  constructor(message: string) {
    super(RegistryFullError.code, message);
  }
}

/** An option, a name or a config value that is out of range or of the wrong type. */
export class InvalidOptionsError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_OPTIONS';
  declare readonly code: 'ERR_INVALID_OPTIONS';
  /** The option or argument at fault, e.g. `"stripes"` or `"failureThreshold"`. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(InvalidOptionsError.code, `${option}: ${message}`);
    this.option = option;
  }
}

/**
 * A value passed to `StatsRegistry.attach` (or `BroadcastReceiver.fromHandle`) that is not
 * a handle of a compatible registry (or receiver).
 */
export class InvalidHandleError extends AtomicStatsError {
  static override readonly code = 'ERR_INVALID_HANDLE';
  declare readonly code: 'ERR_INVALID_HANDLE';
  /** The kind of handle that was expected, e.g. `"registry"` or `"broadcast receiver"`. */
  readonly expected: string;
  constructor(message: string, expected = 'registry') {
    super(InvalidHandleError.code, `not an atomic-stats ${expected} handle: ${message}`);
    this.expected = expected;
  }
}

/**
 * A registry entry whose bytes in shared memory break the layout's bounds (some thread
 * wrote over them), met when that entry is asked for by name or when allocating. The
 * listings (`entries()`, `collect()`, `usage()`) skip such entries instead, with one
 * process warning per entry.
 */
export class CorruptRegistryError extends AtomicStatsError {
  static override readonly code = 'ERR_CORRUPT_REGISTRY';
  declare readonly code: 'ERR_CORRUPT_REGISTRY';
  /** The entry asked for, or undefined when the corruption is in the registry's header. */
  readonly entryName: string | undefined;
  constructor(entryName: string | undefined, reason: string) {
    super(CorruptRegistryError.code, `${entryName === undefined ? 'the registry' : `the entry "${entryName}"`} is corrupt in shared memory: ${reason}`);
    this.entryName = entryName;
  }
}

/**
 * A number read (`value()`, `snapshot()`) of a counter above 2^53 - 1, which a JS number
 * cannot hold exactly. The counter is fine: read it with `valueBigInt()` / `snapshotBigInt()`.
 */
export class UnsafeIntegerError extends AtomicStatsError {
  static override readonly code = 'ERR_UNSAFE_INTEGER';
  declare readonly code: 'ERR_UNSAFE_INTEGER';
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
  static override readonly code = 'ERR_REGISTRY_CLOSED';
  declare readonly code: 'ERR_REGISTRY_CLOSED';
  constructor() {
    super(RegistryClosedError.code, 'this registry object was closed; attach again to open new entries');
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'symbol') return value.toString();
  try {
    return Object.prototype.toString.call(value);
  } catch {
    // A Proxy whose get trap throws (toString reads Symbol.toStringTag), or a revoked one.
    return `[${typeof value}]`;
  }
}
