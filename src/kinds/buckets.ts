/*
 * The bucket math of explicit-bucket histograms, kept apart from their storage
 * (histogram.ts and assembly/histogram.ts hold the cells), as HdrHistogram keeps its
 * index math apart from its count arrays. Nothing here touches shared memory.
 */
import { InvalidOptionsError } from '../errors.js';

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
 * linearly inside it, assuming observations spread evenly over the bucket. The true
 * quantile of the observations lies in that same bucket, so the error is at most the
 * bucket's width. The first bucket's lower edge is 0 (if its bound is positive); a rank
 * in the +Inf bucket returns the largest finite bound. NaN when there are no observations.
 */
export function quantileFromBuckets(q: number, bounds: readonly number[], cumulative: readonly bigint[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0n;
  if (total === 0n) return NaN;
  const rank = q * Number(total);
  let i = 0;
  while (i < cumulative.length - 1 && Number(cumulative[i]!) < rank) i++;
  if (i === bounds.length) return bounds[bounds.length - 1]!;
  const upper = bounds[i]!;
  if (i === 0 && upper <= 0) return upper;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : Number(cumulative[i - 1]!);
  const inBucket = Number(cumulative[i]!) - below;
  if (inBucket === 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

/** `count` bounds starting at `start`, `width` apart (prom-client's `linearBuckets`). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_BUCKETS) throw new InvalidOptionsError('count', `must be an integer from 1 to ${MAX_BUCKETS}`);
  if (!Number.isFinite(start) || !Number.isFinite(width) || !(width > 0)) throw new InvalidOptionsError('width', 'start and width must be finite, width > 0');
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** `count` bounds starting at `start`, each `factor` times the previous (prom-client's `exponentialBuckets`). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_BUCKETS) throw new InvalidOptionsError('count', `must be an integer from 1 to ${MAX_BUCKETS}`);
  if (!Number.isFinite(start) || !(start > 0) || !Number.isFinite(factor) || !(factor > 1)) {
    throw new InvalidOptionsError('factor', 'start must be finite and > 0, factor finite and > 1');
  }
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/**
 * Bounds on the grid of OpenTelemetry's exponential histograms and Prometheus' native
 * histograms at `schema` (-4..8): every bound is 2^(i * 2^-schema) for an integer i, from
 * the last bound at or below `min` to the first at or above `max`. Each bucket then is
 * exactly the native bucket of index i (upper bound inclusive, as both define them), so
 * counts from different processes line up bucket for bucket, and the relative error of a
 * quantile read from them is at most 2^(2^-schema) - 1 (9 % at schema 3).
 */
export function nativeBuckets(schema: number, min: number, max: number): number[] {
  if (!Number.isInteger(schema) || schema < -4 || schema > 8) throw new InvalidOptionsError('schema', 'must be an integer from -4 to 8');
  if (!(min > 0) || !Number.isFinite(min) || !(max > min) || !Number.isFinite(max)) {
    throw new InvalidOptionsError('max', 'need 0 < min < max, both finite');
  }
  const perOctave = 2 ** schema;
  const bound = (i: number) => 2 ** (i / perOctave);
  let lo = Math.floor(Math.log2(min) * perOctave);
  while (bound(lo) > min) lo--; // log2 may round up across a boundary
  let hi = Math.ceil(Math.log2(max) * perOctave);
  while (bound(hi) < max) hi++;
  if (hi - lo + 1 > MAX_BUCKETS) {
    throw new InvalidOptionsError('schema', `${hi - lo + 1} bounds from ${min} to ${max} at schema ${schema}; at most ${MAX_BUCKETS}: use a lower schema or a narrower range`);
  }
  return Array.from({ length: hi - lo + 1 }, (_, k) => bound(lo + k));
}
