/*
 * What a monitored thread measures of itself, from Node's own instruments, each of which
 * sees only the thread (the isolate and event loop) it runs in:
 *   - the heap: v8.getHeapStatistics() (process.memoryUsage() mixes in process-wide
 *     figures: its rss is the whole process's);
 *   - event-loop utilisation: performance.eventLoopUtilization(), differenced between two
 *     samples, so it is the share of the last interval the loop spent running callbacks;
 *   - event-loop delay: perf_hooks.monitorEventLoopDelay() (a libuv timer every
 *     `delayResolutionMs`, recording how long it waited, into an HDR histogram kept in
 *     C++), read and reset once per interval: its min, max, mean, stddev and percentiles
 *     become the interval's gauges, and its samples are folded into the slot's delay
 *     histogram;
 *   - GC pauses: a PerformanceObserver of 'gc' entries, bucketed here as they arrive and
 *     added to the slot's GC histogram once per interval;
 *   - active resources: process.getActiveResourcesInfo().length.
 * An instrument the runtime lacks is left out, and its figures stay 0: monitoring never
 * fails for want of one. Bun's and Deno's monitorEventLoopDelay() record how late each
 * sample ran rather than the whole wait (an idle loop reads microseconds, not about
 * `delayResolutionMs`), and Bun's gives its percentile values as bigints.
 *
 * What it costs. Most of a monitored thread's cost is the delay sampler's timer, which
 * wakes an idle thread every `delayResolutionMs`: 20 ms by default here, where
 * prom-client samples every 10 ms, because each wake-up costs the thread the same
 * whatever it is doing. The published run (docs/benchmarks.md, "Thread health": a loaded
 * 2-vCPU VM) has an idle thread monitored at the defaults at about 0.5% of a core, 0.63%
 * at 10 ms. A tick costs about 0.6 ms, most of it the HDR histogram's mean and stddev,
 * which Node computes by walking its buckets.
 *
 * Folding the delay into buckets. The HDR histogram does not hand out its samples, only
 * its count, its mean and a list of percentile points (p, the value at p) that halve the
 * distance to 100 at each step. The share of samples at or below a bucket's bound is read
 * off those points, interpolated linearly between the two around the bound (0 below the
 * min, 1 at or above the max), and the bucket counts are the differences of the rounded
 * cumulative counts: so each interval's counts add up to exactly its sample count, and
 * its sum (mean × count) is exact, while the split between buckets is an estimate, within
 * the span of the percentile points around each bound.
 */
import { type EventLoopUtilization, type IntervalHistogram, PerformanceObserver, constants, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import {
  DELAY_BOUNDS,
  F_DELAY_MAX,
  F_DELAY_MEAN,
  F_DELAY_MIN,
  F_DELAY_P50,
  F_DELAY_P90,
  F_DELAY_P99,
  F_DELAY_STDDEV,
  F_ELU,
  F_EXTERNAL,
  F_HEAP_LIMIT,
  F_HEAP_TOTAL,
  F_HEAP_USED,
  GC_BOUNDS,
  GC_KINDS,
  bucketOf,
} from './layout.js';

// perf_hooks' GC kind constants -> index into GC_KINDS.
const GC_KIND_INDEX = new Map<number, number>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 0],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 1],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 2],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 3],
]);

/** The pauses and delay samples of one interval, not yet added to the slot. */
export interface Pending {
  /** Delay samples per bucket of DELAY_BOUNDS and +Inf. */
  readonly delayCounts: Float64Array;
  delaySum: number;
  /** GC pauses per kind (GC_KINDS) × bucket of GC_BOUNDS and +Inf. */
  readonly gcCounts: Float64Array;
  /** GC pause seconds per kind. */
  readonly gcSums: Float64Array;
}

function tryStart<T>(start: () => T): T | undefined {
  try {
    return start();
  } catch {
    return undefined;
  }
}

/** The share of the recorded samples at or below `bound` ns, read off the histogram's percentile points. */
export function shareAtOrBelow(points: readonly (readonly [number, number])[], min: number, max: number, bound: number): number {
  if (bound < min) return 0;
  if (bound >= max) return 1;
  let share = 0;
  for (let k = 0; k < points.length; k++) {
    const [p, v] = points[k]!;
    if (v > bound) {
      const prev = points[k - 1];
      if (prev === undefined || v === prev[1]) return share;
      return (prev[0] + ((p - prev[0]) * (bound - prev[1])) / (v - prev[1])) / 100;
    }
    share = p / 100;
  }
  return share;
}

/** What readDelay uses of an event-loop delay histogram (perf_hooks' IntervalHistogram). */
export type DelayHistogram = Pick<IntervalHistogram, 'count' | 'min' | 'max' | 'mean' | 'stddev' | 'percentile' | 'percentiles' | 'reset'>;

/**
 * The interval's delay, read from `h` and reset: its figures into the gauges of `values`
 * (seconds), its samples folded into `pending` (see the header). Nothing when it has none.
 */
export function readDelay(h: DelayHistogram, values: Float64Array, pending: Pending): void {
  // Every figure goes through Number(): Bun's histogram gives its percentile points'
  // values as bigints, which no arithmetic here may mix with numbers.
  const n = Number(h.count);
  if (!(n > 0)) return;
  const min = Number(h.min);
  const max = Number(h.max);
  const mean = Number(h.mean);
  values[F_DELAY_MIN] = min / 1e9;
  values[F_DELAY_MAX] = max / 1e9;
  values[F_DELAY_MEAN] = mean / 1e9;
  values[F_DELAY_STDDEV] = Number(h.stddev) / 1e9;
  values[F_DELAY_P50] = Number(h.percentile(50)) / 1e9;
  values[F_DELAY_P90] = Number(h.percentile(90)) / 1e9;
  values[F_DELAY_P99] = Number(h.percentile(99)) / 1e9;
  const points = [...h.percentiles].map(([p, v]) => [Number(p), Number(v)] as const);
  const counts = pending.delayCounts;
  let below = 0;
  for (let i = 0; i < DELAY_BOUNDS.length; i++) {
    const cumulative = Math.max(below, Math.min(n, Math.round(n * shareAtOrBelow(points, min, max, DELAY_BOUNDS[i]! * 1e9))));
    counts[i]! += cumulative - below;
    below = cumulative;
  }
  counts[DELAY_BOUNDS.length]! += n - below;
  pending.delaySum += (mean * n) / 1e9;
  h.reset();
}

export class Sampler {
  private readonly delay: IntervalHistogram | undefined;
  private readonly gc: PerformanceObserver | undefined;
  private lastElu: EventLoopUtilization | undefined;
  readonly pending: Pending = {
    delayCounts: new Float64Array(DELAY_BOUNDS.length + 1),
    delaySum: 0,
    gcCounts: new Float64Array(GC_KINDS.length * (GC_BOUNDS.length + 1)),
    gcSums: new Float64Array(GC_KINDS.length),
  };

  constructor(delayResolutionMs: number) {
    this.delay = tryStart(() => {
      const h = monitorEventLoopDelay({ resolution: delayResolutionMs });
      h.enable();
      return h;
    });
    this.gc = tryStart(() => {
      const o = new PerformanceObserver((list) => this.onGc(list.getEntries()));
      o.observe({ entryTypes: ['gc'] });
      return o;
    });
    this.lastElu = tryStart(() => performance.eventLoopUtilization());
  }

  private onGc(entries: readonly { duration: number; detail?: unknown }[]): void {
    const p = this.pending;
    const width = GC_BOUNDS.length + 1;
    for (const e of entries) {
      const kind = GC_KIND_INDEX.get((e.detail as { kind?: number } | undefined)?.kind ?? (e as { kind?: number }).kind ?? -1);
      const seconds = e.duration / 1000;
      if (kind === undefined || !(seconds >= 0)) continue;
      p.gcCounts[kind * width + bucketOf(GC_BOUNDS, seconds)]!++;
      p.gcSums[kind]! += seconds;
    }
  }

  /**
   * Fills the gauges of `values` (heap, utilisation since the last sample, the delay of
   * the interval since the last sample) and adds the interval's delay samples to `pending`.
   */
  sample(values: Float64Array): void {
    try {
      const s = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number };
      values[F_HEAP_USED] = s.used_heap_size;
      values[F_HEAP_TOTAL] = s.total_heap_size;
      values[F_HEAP_LIMIT] = s.heap_size_limit;
      values[F_EXTERNAL] = s.external_memory ?? 0;
    } catch {
      // Left as they were.
    }
    if (this.lastElu !== undefined) {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, this.lastElu).utilization;
      values[F_ELU] = Number.isFinite(u) ? Math.min(1, Math.max(0, u)) : 0;
      this.lastElu = now;
    }
    if (this.delay !== undefined) readDelay(this.delay, values, this.pending);
  }

  /** Clears `pending` once its counts are in the slot. */
  clearPending(): void {
    this.pending.delayCounts.fill(0);
    this.pending.delaySum = 0;
    this.pending.gcCounts.fill(0);
    this.pending.gcSums.fill(0);
  }

  /** Stops every instrument. */
  stop(): void {
    try {
      this.delay?.disable();
    } catch {
      // Nothing to stop.
    }
    this.gc?.disconnect();
  }
}

/** Active resources keeping this thread's event loop alive (0 where the runtime cannot tell). */
export function activeResources(): number {
  try {
    return typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo().length : 0;
  } catch {
    return 0;
  }
}
