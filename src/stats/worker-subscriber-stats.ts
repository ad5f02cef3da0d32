import type { Counter } from '../sets/counter-set.js';
import { InvalidOptionsError, describe } from '../errors.js';
import type { Row } from '../export/entry-collector.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { setBytes } from '../sets/records.js';
import { structCollector } from './collect.js';
import { DONE_SUCCESS } from '../ops/stats.js';
import { SUBSCRIBER_FIELDS } from './fields.js';
import type { SubscriberField } from './fields.js';
import { type StatsOptions, type StatsPlacement, openStats } from './open.js';
import { StatsStruct } from './struct.js';

/** Snapshot DTO `WorkerEventSubscriberStats`: snake_case keys, fixed so that the JSON stays stable (docs/event-bus-and-subscriber.md). */
export interface WorkerEventSubscriberStats {
  worker_id: string;
  completions_received: number;
  successful_completions: number;
  failed_completions: number;
  conversion_errors: number;
  unmatched_correlations: number;
}

/** The same with every counter exact. */
export interface WorkerEventSubscriberBigIntStats {
  worker_id: string;
  completions_received: bigint;
  successful_completions: bigint;
  failed_completions: bigint;
  conversion_errors: bigint;
  unmatched_correlations: bigint;
}

function checkWorkerId(workerId: unknown): string {
  if (typeof workerId !== 'string') throw new InvalidOptionsError('workerId', 'must be a string');
  return workerId;
}

/**
 * The counters of a completion listener, shared by every thread that opens the same name
 * (`registry.workerSubscriberStats(name)`); WorkerEventSubscriber records into one.
 * Independent u64 cells, snapshots not transactional (see EventBusStats): `received ==
 * successful + failed` holds whenever no record is in flight.
 */
export class WorkerSubscriberStats extends StatsStruct<SubscriberField> {
  private readonly c: Readonly<Record<SubscriberField, Counter>>;

  /** @internal */
  constructor(name: string, p: StatsPlacement<SubscriberField>) {
    super(name, p);
    this.c = {
      completions_received: p.set.counter('completions_received'),
      successful_completions: p.set.counter('successful_completions'),
      failed_completions: p.set.counter('failed_completions'),
      conversion_errors: p.set.counter('conversion_errors'),
      unmatched_correlations: p.set.counter('unmatched_correlations'),
    };
  }

  /**
   * `completions_received += 1` and `successful_completions` or `failed_completions += 1`,
   * in one call. `success` must be a boolean: anything else (`'yes'`, 1, undefined) throws
   * InvalidOptionsError and records nothing, rather than count as a failure.
   */
  recordCompletion(success: boolean): void {
    if (success === true) this.k.subCompletion(this.a, this.b, DONE_SUCCESS);
    else if (success === false) this.k.subCompletion(this.a, this.b, 0);
    else throw new InvalidOptionsError('success', `must be a boolean, got ${describe(success)}`);
  }

  /**
   * @internal Everything one completion does, in one call: `flags` is DONE_SUCCESS |
   * DONE_CONVERSION_ERROR | DONE_UNMATCHED (src/stats/fields.ts).
   */
  recordOutcome(flags: number): void {
    this.k.subCompletion(this.a, this.b, flags);
  }

  /** `conversion_errors += 1`. */
  recordConversionError(): void {
    this.c.conversion_errors.inc();
  }

  /** `unmatched_correlations += 1`. */
  recordUnmatchedCorrelation(): void {
    this.c.unmatched_correlations.inc();
  }

  /**
   * Number snapshot, labelled with `workerId` (the counters are shared by name; the id is
   * the asking subscriber's). Throws UnsafeIntegerError rather than round a counter above
   * 2^53 - 1; see {@link snapshotBigInt}.
   */
  snapshot(workerId = ''): WorkerEventSubscriberStats {
    const id = checkWorkerId(workerId);
    const c = this.c;
    return {
      worker_id: id,
      completions_received: c.completions_received.value(),
      successful_completions: c.successful_completions.value(),
      failed_completions: c.failed_completions.value(),
      conversion_errors: c.conversion_errors.value(),
      unmatched_correlations: c.unmatched_correlations.value(),
    };
  }

  /** Exact snapshot: every counter a bigint. */
  snapshotBigInt(workerId = ''): WorkerEventSubscriberBigIntStats {
    const id = checkWorkerId(workerId);
    const c = this.c;
    return {
      worker_id: id,
      completions_received: c.completions_received.valueBigInt(),
      successful_completions: c.successful_completions.valueBigInt(),
      failed_completions: c.failed_completions.valueBigInt(),
      conversion_errors: c.conversion_errors.valueBigInt(),
      unmatched_correlations: c.unmatched_correlations.valueBigInt(),
    };
  }
}

const ROWS: readonly Row[] = [
  { name: 'worker_subscriber_completions_received_total', help: 'Step completions received.', unit: '{completion}', field: 0, conv: 'count' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'worker_subscriber_completions_total', help: 'Completions received, by the outcome they report.', unit: '{completion}', field: 2, conv: 'count', outcome: 'failure' },
  { name: 'worker_subscriber_conversion_errors_total', help: 'Completions that could not be converted to a step result.', unit: '{completion}', field: 3, conv: 'count' },
  { name: 'worker_subscriber_unmatched_completions_total', help: 'Completions that matched no pending execution.', unit: '{completion}', field: 4, conv: 'count' },
];

/** The completion listener stats' kind: a struct of SUBSCRIBER_FIELDS. */
export const workerSubscriberStatsKind = {
  name: 'workerSubscriberStats',
  code: 4,
  dataBytes: setBytes,
  collector: structCollector(SUBSCRIBER_FIELDS, ROWS),

  /** The body of `StatsRegistry.workerSubscriberStats`; a subscriber opens its stats through it. */
  open(registry: RegistryCore, name: string, options?: StatsOptions): WorkerSubscriberStats {
    registry.checkOpen();
    return openStats(registry, workerSubscriberStatsKind, name, SUBSCRIBER_FIELDS, options, (p) => new WorkerSubscriberStats(name, p));
  },
} satisfies Kind;
