/*
 * A bulkhead's configuration: validated, with defaults filled in. The resolved config is
 * the bulkhead's registry descriptor, so every thread opening the same name asks for the
 * same numbers (another config is a NameConflictError) and the layout follows from it.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { MAX_CALL_TIMEOUT_MS } from '../policy/timeout.js';
import { checkIntIn, checkOptionsObject } from '../validate.js';
import { MAX_CONCURRENT, MAX_QUEUED } from './bulkhead-core.js';

/** What a bulkhead is configured with; `maxConcurrent` is required to create one. */
export interface BulkheadConfig {
  /** Calls that may hold a permit at once, all threads together: an integer 1..10000. */
  maxConcurrent?: number;
  /** Calls that may wait for a permit, all threads together: an integer 0..10000. Default 0 (no queue: refuse at once). */
  maxQueued?: number;
  /**
   * How long a call may wait in the queue, in ms: an integer 1..3600000, or `null` (the
   * default) for no limit (it waits until admitted or aborted).
   */
  queueTimeoutMs?: number | null;
  /**
   * How long a permit may stay held, in ms from when a call first found it held while the
   * bulkhead was full, before it is taken back (its holder is taken for gone): an integer
   * 1..3600000. Default 60000. Set it above the longest call. See docs/resilience.md.
   */
  leaseMs?: number;
}

/** A complete, validated bulkhead config. */
export interface ResolvedBulkheadConfig {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  /** null: no queue timeout. */
  readonly queueTimeoutMs: number | null;
  readonly leaseMs: number;
}

const KEYS = ['maxConcurrent', 'maxQueued', 'queueTimeoutMs', 'leaseMs'];

/** Validates a config (the user's, or one read back from a record's signature). */
export function resolveBulkheadConfig(config: unknown): ResolvedBulkheadConfig {
  const o = checkOptionsObject(config, KEYS, 'config');
  if (o.maxConcurrent === undefined) throw new InvalidOptionsError('maxConcurrent', `is required to create a bulkhead (an integer 1..${MAX_CONCURRENT})`);
  const maxConcurrent = checkIntIn(o.maxConcurrent, 'maxConcurrent', 1, MAX_CONCURRENT);
  const maxQueued = o.maxQueued === undefined ? 0 : checkIntIn(o.maxQueued, 'maxQueued', 0, MAX_QUEUED);
  let queueTimeoutMs: number | null = null;
  if (o.queueTimeoutMs !== undefined && o.queueTimeoutMs !== null) queueTimeoutMs = checkIntIn(o.queueTimeoutMs, 'queueTimeoutMs', 1, MAX_CALL_TIMEOUT_MS);
  if (queueTimeoutMs !== null && maxQueued === 0) {
    throw new InvalidOptionsError('queueTimeoutMs', `needs a queue (maxQueued of 1 or more); got ${describe(o.queueTimeoutMs)} with maxQueued 0`);
  }
  const leaseMs = o.leaseMs === undefined ? 60_000 : checkIntIn(o.leaseMs, 'leaseMs', 1, 3_600_000);
  return Object.freeze({ maxConcurrent, maxQueued, queueTimeoutMs, leaseMs });
}
