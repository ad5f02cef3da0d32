import { TWO32, checkCount, highWord } from '../count.js';
import type { Row } from '../export/entry-collector.js';
import { STEP_DURATIONS, checkDurationsName, durationSeries } from '../kinds/durations.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { setBytes } from '../sets/records.js';
import { bool } from '../validate.js';
import { structCollector } from './collect.js';
import { STEP_FIELDS } from './fields.js';
import type { Counter } from '../sets/counter-set.js';
import { type StatsOptions, type StatsPlacement, openStats } from './open.js';
import { StatsStruct } from './struct.js';
import type { StepField } from './fields.js';

/** Snapshot DTO: snake_case keys, fixed so that the JSON stays stable (docs/event-bus-and-subscriber.md). */
export interface StepExecutionStatsSnapshot {
  total_executed: number;
  total_succeeded: number;
  total_failed: number;
  /** total_execution_time_ms / total_executed (failures included), 0 when nothing ran. */
  average_execution_time_ms: number;
}

/** The same, every counter exact. */
export interface StepExecutionStatsBigIntSnapshot {
  total_executed: bigint;
  total_succeeded: bigint;
  total_failed: bigint;
  average_execution_time_ms: number;
}

/**
 * Step execution statistics shared by every thread that opens the same name
 * (`registry.stepExecutionStats(name)`).
 *
 * Each counter is an independent u64: a record method is one call into the backend that
 * updates several cells, but not as a transaction, and a snapshot is a set of
 * individually atomic reads. A snapshot taken while other threads record may therefore
 * show, say, `total_executed` one ahead of `total_succeeded + total_failed`; once the
 * recording threads are quiet the totals agree exactly.
 */
export class StepExecutionStats extends StatsStruct<StepField> {
  private readonly executed: Counter;
  private readonly succeeded: Counter;
  private readonly failed: Counter;
  private readonly time: Counter;

  /** @internal */
  constructor(name: string, p: StatsPlacement<StepField>) {
    super(name, p);
    this.executed = p.set.counter('total_executed');
    this.succeeded = p.set.counter('total_succeeded');
    this.failed = p.set.counter('total_failed');
    this.time = p.set.counter('total_execution_time_ms');
  }

  /**
   * One successful execution of `ms` milliseconds: executed, succeeded and total time, in
   * one backend call. `ms` is a safe non-negative integer (round a `performance.now()`
   * difference first); anything else throws InvalidCountError and records nothing.
   */
  recordSuccess(ms: number): void {
    // typeof first: `>>>` on a BigInt throws a TypeError, not our InvalidCountError.
    if (typeof ms === 'number' && (ms >>> 0) === ms && ms < 0x40000000 /* OWNED_ADD_LIMIT, literal: see counter-set.ts */) {
      this.k.stepSuccess(this.a, this.b, ms, 0);
      return;
    }
    // Slow path: validation, and durations of 2^30 ms (12 days) or more, which go to the
    // shared cells (an owned stripe takes smaller steps only; the totals are the same).
    checkCount(ms);
    const hi = highWord(ms);
    this.sharedK.stepSuccess(this.sharedA, 0, ms - hi * TWO32, hi);
  }

  /** Whether successes are also observed into the shared step-duration histogram (`durations: true`). */
  observesDurations = false;

  /**
   * @internal Opt-in (`durations: true`): recordSuccess also observes its duration, in
   * seconds, into a shared histogram series. Installed on this instance only, so stats
   * without it keep the plain record path.
   */
  observeDurations(series: { observe(seconds: number): void }): void {
    const record = StepExecutionStats.prototype.recordSuccess;
    this.recordSuccess = (ms: number) => {
      record.call(this, ms); // validates first: an invalid ms throws before anything is observed
      series.observe(ms / 1000);
    };
    this.observesDurations = true;
  }

  /** One failed execution: executed and failed, in one backend call. */
  recordFailure(): void {
    this.k.stepFailure(this.a, this.b);
  }

  /**
   * Number snapshot. Throws UnsafeIntegerError (changing nothing) if a counter is above
   * 2^53 - 1 rather than round it; use {@link snapshotBigInt} then. The average is a
   * float computed from the exact totals.
   */
  snapshot(): StepExecutionStatsSnapshot {
    const executedN = this.executed.value();
    const succeeded = this.succeeded.value();
    const failed = this.failed.value();
    return {
      total_executed: executedN,
      total_succeeded: succeeded,
      total_failed: failed,
      average_execution_time_ms: average(this.time.valueBigInt(), BigInt(executedN)),
    };
  }

  /** Exact snapshot: every counter a bigint. */
  snapshotBigInt(): StepExecutionStatsBigIntSnapshot {
    const executed = this.executed.valueBigInt();
    return {
      total_executed: executed,
      total_succeeded: this.succeeded.valueBigInt(),
      total_failed: this.failed.valueBigInt(),
      average_execution_time_ms: average(this.time.valueBigInt(), executed),
    };
  }

  /** The total execution time in ms, exact (not part of the DTO; the average is derived from it). */
  totalExecutionTimeMs(): bigint {
    return this.time.valueBigInt();
  }
}

function average(total: bigint, count: bigint): number {
  if (count === 0n) return 0;
  // Integer part exactly, then the remainder as a fraction: no precision lost to
  // converting a huge total before dividing.
  const whole = total / count;
  return Number(whole) + Number(total - whole * count) / Number(count);
}

export interface StepStatsOptions extends StatsOptions {
  /**
   * Also observe each recordSuccess duration, in seconds, into the shared histogram
   * atomic_stats_step_execution_duration_seconds{name} (p50/p99 across threads). Default
   * false; part of the definition, so every thread must open the name alike.
   */
  durations?: boolean;
}

const DURATION_OPTION = {
  keys: ['durations'],
  check(o: Record<string, unknown>): Record<string, unknown> {
    return bool(o, 'durations', false) ? { durations: true } : {};
  },
};

const ROWS: readonly Row[] = [
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 1, conv: 'count', outcome: 'success' },
  { name: 'step_executions_total', help: 'Step executions, by outcome.', unit: '{execution}', field: 2, conv: 'count', outcome: 'failure' },
  // Not `step_execution_duration_seconds_total`: that counter's OpenMetrics family name
  // would be the name of the step-duration histogram (durations: true), which then could
  // not be exported beside it. A total of seconds is `<what>_seconds_total`, like
  // process_cpu_seconds_total; the histogram keeps the conventional `_duration_seconds`.
  { name: 'step_execution_seconds_total', help: 'Summed execution time of successful steps.', unit: 's', field: 3, conv: 'ms' },
];

/** The step execution stats' kind: a struct of STEP_FIELDS. */
export const stepExecutionStatsKind = {
  name: 'stepExecutionStats',
  code: 2,
  dataBytes: setBytes,
  collector: structCollector(STEP_FIELDS, ROWS),

  /** The body of `StatsRegistry.stepExecutionStats`. */
  open(registry: RegistryCore, name: string, options?: StepStatsOptions): StepExecutionStats {
    registry.checkOpen();
    const durations = options !== null && typeof options === 'object' && options.durations === true;
    if (durations && typeof name === 'string') checkDurationsName(STEP_DURATIONS, name);
    const stats = openStats(registry, stepExecutionStatsKind, name, STEP_FIELDS, options, (p) => new StepExecutionStats(name, p), DURATION_OPTION);
    if (durations && !stats.observesDurations) stats.observeDurations(durationSeries(registry, STEP_DURATIONS, name));
    return stats;
  },
} satisfies Kind;
