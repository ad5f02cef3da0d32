/*
 * The bucket math of explicit-bucket histograms, kept apart from their storage
 * (histogram.ts and assembly/histogram.ts hold the cells), as HdrHistogram keeps its
 * index math apart from its count arrays. Nothing here touches shared memory.
 */
import { InvalidOptionsError } from '../errors.js';
import { checkIntIn } from '../validate.js';

/** prom-client's default buckets (seconds): 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** Most finite bucket bounds a histogram may have (each costs 8 bytes per series, and per stripe when striped). */
export const MAX_BUCKETS = 256;

/** Checks user bucket bounds: 1..MAX_BUCKETS finite numbers, strictly increasing. `+Inf` is implicit and must not be given. */
export function checkBuckets(value: unknown): number[] {
  if (value === undefined) return [...DEFAULT_BUCKETS];
  if (!Array.isArray(value)) throw new InvalidOptionsError('buckets', 'must be an array of finite numbers in increasing order');
  if (value.length === 0 || value.length > MAX_BUCKETS) {
    throw new InvalidOptionsError('buckets', `must hold 1..${MAX_BUCKETS} bounds, got ${value.length}`);
  }
  for (let i = 0; i < value.length; i++) {
    const b: unknown = value[i];
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new InvalidOptionsError('buckets', `bound ${i} (${String(b)}) is not a finite number (the +Inf bucket is always added)`);
    }
    if (i > 0 && b <= (value[i - 1] as number)) {
      throw new InvalidOptionsError('buckets', `bounds must increase strictly: ${String(value[i - 1])} then ${b}`);
    }
  }
  // -0 and 0 are one bound; normalise so that signatures written by any thread compare equal.
  return (value as number[]).map((b) => (b === 0 ? 0 : b));
}

/**
 * Index of the bucket `v` falls in: the first bound `v` is less than or equal to
 * (Prometheus' `le`), or `bounds.length` for the +Inf bucket.
 */
export function bucketIndex(bounds: Float64Array, v: number): number {
  const n = bounds.length;
  if (n <= 16) {
    let i = 0;
    while (i < n && v > bounds[i]!) i++;
    return i;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > bounds[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The q-quantile estimated from cumulative bucket counts the way Prometheus'
 * `histogram_quantile` does: find the bucket holding rank q * count and interpolate
 * linearly inside it, assuming observations spread evenly over the bucket. The first
 * bucket's lower edge is taken as 0 (if its bound is positive); a rank in the +Inf bucket
 * returns the largest finite bound. NaN when there are no observations. q = 0 gives the
 * lower edge of the first non-empty bucket (histogram_quantile would interpolate in an
 * empty first bucket).
 *
 * The error bound. The observation of that rank lies in the bucket found, and the
 * estimate lies between the bucket's edges, so it is off by at most the bucket's width --
 * when both edges are known. They are for every bucket but the first and the +Inf one.
 * The first bucket's lower edge is only assumed: 0 when its bound is positive, which is
 * right when no observation is negative; a negative observation in it (or any
 * observation below a first bound <= 0, where the bound itself is returned) can lie any
 * distance below the estimate. The bound holds for a rank in the first bucket only when
 * no observation is below that assumed edge.
 */
export function quantileFromBuckets(q: number, bounds: readonly number[], cumulative: readonly bigint[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0n;
  if (total === 0n) return NaN;
  const rank = q * Number(total);
  let i = 0;
  // `|| === 0n`: a rank of 0 belongs to the first observation, not to an empty bucket before it.
  while (i < cumulative.length - 1 && (Number(cumulative[i]!) < rank || cumulative[i] === 0n)) i++;
  if (i === bounds.length) return bounds[bounds.length - 1]!;
  const upper = bounds[i]!;
  if (i === 0 && upper <= 0) return upper;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : Number(cumulative[i - 1]!);
  const inBucket = Number(cumulative[i]!) - below;
  if (inBucket === 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

/**
 * `count` bounds starting at `start`, `width` apart (prom-client's `linearBuckets`:
 * `start + i * width`). Refuses, naming the argument, what a histogram could not use: a
 * last bound past the largest double (`count`), or a width too small for the magnitude
 * of `start`, so that two bounds round to one double (`width`).
 */
export function linearBuckets(start: number, width: number, count: number): number[] {
  checkCount(count);
  if (typeof start !== 'number' || !Number.isFinite(start)) throw new InvalidOptionsError('start', `must be a finite number, got ${String(start)}`);
  if (typeof width !== 'number' || !Number.isFinite(width) || !(width > 0)) throw new InvalidOptionsError('width', `must be a finite number > 0, got ${String(width)}`);
  const bounds = Array.from({ length: count }, (_, i) => start + i * width);
  return checkSeries(bounds, `start + (count - 1) * width = ${String(start)} + ${count - 1} * ${String(width)} overflows`, 'width', `${String(width)} is too small next to start ${String(start)}`);
}

/**
 * `count` bounds starting at `start`, each `factor` times the previous (prom-client's
 * `exponentialBuckets`; here `start * factor ** i`). Refuses, naming the argument, a
 * last bound past the largest double (`count`) or a factor so close to 1 that two bounds
 * round to one double (`factor`).
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  checkCount(count);
  if (typeof start !== 'number' || !Number.isFinite(start) || !(start > 0)) throw new InvalidOptionsError('start', `must be a finite number > 0, got ${String(start)}`);
  if (typeof factor !== 'number' || !Number.isFinite(factor) || !(factor > 1)) throw new InvalidOptionsError('factor', `must be a finite number > 1, got ${String(factor)}`);
  const bounds = Array.from({ length: count }, (_, i) => start * factor ** i);
  return checkSeries(bounds, `start * factor ** (count - 1) = ${String(start)} * ${String(factor)} ** ${count - 1} overflows`, 'factor', `${String(factor)} is too close to 1 at start ${String(start)}`);
}

function checkCount(count: unknown): void {
  checkIntIn(count, 'count', 1, MAX_BUCKETS);
}

// Bounds computed in doubles can overflow to Infinity or round two steps onto one value;
// checkBuckets would refuse either when the histogram is defined, far from the call that
// made them. Refused here instead, with the argument to change.
function checkSeries(bounds: number[], overflow: string, stepArg: string, tooSmall: string): number[] {
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]!)) throw new InvalidOptionsError('count', `${overflow}: at most ${i} bounds fit`);
    if (i > 0 && !(bounds[i]! > bounds[i - 1]!)) {
      throw new InvalidOptionsError(stepArg, `${tooSmall}: bounds ${i - 1} and ${i} are both ${String(bounds[i])}`);
    }
  }
  return bounds.map((b) => (b === 0 ? 0 : b)); // -0 as 0, as checkBuckets keeps it
}
