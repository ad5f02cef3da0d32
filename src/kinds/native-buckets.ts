/*
 * Explicit bounds on the bucket grid of Prometheus' native histograms (which
 * OpenTelemetry's exponential histograms share): nativeBuckets(schema, min, max).
 *
 * At schema s the grid is 2^(i * 2^-s) for every integer i, bucket i holding the values
 * above bound i - 1 and at most bound i. As real numbers that is all; as doubles each
 * implementation rounds, and what decides the bucket of an observation near a bound is
 * the double it is compared with. So the bounds here are Prometheus' doubles, bit for
 * bit, built the way Prometheus built them (its client keeps the generator in a comment
 * next to nativeHistogramBounds; the server's exponentialBounds holds the same values):
 *
 *   - Within an octave, schema s > 0 has 2^s fractions in [0.5, 1): f_s[0] = 0.5; for
 *     even k, f_s[k] = f_{s-1}[k / 2], the coarser schema's fraction, so that the
 *     schemas nest exactly; for odd k, f_s[k] = f_s[k - 1] * F_s, one rounded multiply.
 *   - F_s is 2^(2^-s) as Go's math.Exp2 returns it: rounded to nearest for s >= 2, but
 *     F_1 = 1.414213562373095, one ulp below Math.SQRT2. Being data of the generator,
 *     they are written out below rather than recomputed with another library's pow.
 *   - Bound i is f_s[i mod 2^s] * 2^(floor(i / 2^s) + 1), an exact scaling (Go's
 *     math.Ldexp). For s <= 0 the bounds are powers of two, 2^(i * 2^-s), exact.
 *   - The last bucket of finite values would end at 2^1024, which is +Infinity as a
 *     double; Prometheus ends it at Number.MAX_VALUE (so that only an infinite
 *     observation lands in the bucket after it), and so does this.
 *
 * The result is not 2^(i / 2^s) rounded to nearest: 178 of the 256 schema-8 fractions
 * differ from it, by up to 4 ulps (176 below, 2 above: the rounding of each multiply, and
 * F_1). Computing the bounds as `2 ** (i / 2^s)` matched Prometheus in only about 3
 * bounds of 5.
 *
 * Range. `min` must be a normal double (>= 2^-1022): every bound is then a positive
 * double distinct from its neighbours. Below it the grid's bounds at high schemas would
 * round to equal subnormals or to 0, which a histogram cannot use.
 */
import { InvalidOptionsError } from '../errors.js';
import { checkIntIn } from '../validate.js';
import { MAX_BUCKETS } from './buckets.js';

/** The smallest normal double, 2^-1022: the least `min` nativeBuckets accepts. */
export const MIN_NATIVE_BOUND = 2 ** -1022;

/** F_s = 2^(2^-s) as Go's math.Exp2 computes it, for s = 1..8 (index s - 1). */
const OCTAVE_FACTORS: readonly number[] = [
  1.414213562373095, 1.189207115002721, 1.0905077326652577, 1.0442737824274138, 1.0218971486541166, 1.0108892860517005, 1.0054299011128027,
  1.0027112750502025,
];

let fractionTables: readonly (readonly number[])[] | undefined;

/** f_s for schemas 0..8 (f_0 = [0.5]), built once. */
function fractions(schema: number): readonly number[] {
  if (fractionTables === undefined) {
    const tables: number[][] = [[0.5]];
    for (let s = 1; s <= 8; s++) {
      const coarser = tables[s - 1]!;
      const f = [0.5];
      for (let k = 1; k < 1 << s; k++) f.push(k % 2 === 0 ? coarser[k / 2]! : f[k - 1]! * OCTAVE_FACTORS[s - 1]!);
      tables.push(f);
    }
    fractionTables = tables;
  }
  return fractionTables[schema]!;
}

const scratch = new DataView(new ArrayBuffer(8));

/** 2^e exactly, for an integer e from -1074 to 1023. */
function pow2(e: number): number {
  if (e < -1022) return pow2(e + 52) * pow2(-52); // a subnormal power of two: exact
  scratch.setUint32(0, (e + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/** Go's math.Frexp for a positive normal double: v = frac * 2^exp, frac in [0.5, 1). */
function frexp(v: number): { frac: number; exp: number } {
  scratch.setFloat64(0, v);
  const high = scratch.getUint32(0);
  const exp = ((high >>> 20) & 0x7ff) - 1022;
  scratch.setUint32(0, (high & 0x800fffff) | (1022 << 20));
  return { frac: scratch.getFloat64(0), exp };
}

/** Upper bound of native bucket `i` at `schema`. */
function nativeBound(i: number, schema: number): number {
  if (schema <= 0) {
    const e = i * 2 ** -schema;
    return e === 1024 ? Number.MAX_VALUE : pow2(e);
  }
  const f = fractions(schema);
  const frac = f[i & (f.length - 1)]!;
  const exp = (i >> schema) + 1;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  return 2 * frac * pow2(exp - 1); // 2 * frac in [1, 2): both factors exact, so is the product
}

/** The native bucket of a positive normal `v`: the first bucket whose bound is >= v. */
function nativeIndex(v: number, schema: number): number {
  const { frac, exp } = frexp(v);
  if (schema > 0) {
    const f = fractions(schema);
    let k = 0;
    while (k < f.length && f[k]! < frac) k++;
    return k + (exp - 1) * f.length;
  }
  // log2(v) lies in [exp - 1, exp), at its low end only for a power of two.
  return Math.ceil((frac === 0.5 ? exp - 1 : exp) / 2 ** -schema);
}

/**
 * Bounds on the grid of Prometheus' native histograms (and OpenTelemetry's exponential
 * histograms) at `schema` (-4..8), from the last bound at or below `min` to the first at
 * or above `max`: each bucket is then the native bucket of the same index, bounds equal
 * to Prometheus' own to the bit (see above), so counts from different processes line up
 * bucket for bucket, and the relative error of a quantile read from them is at most
 * 2^(2^-schema) - 1 (9 % at schema 3). `min` must be at least 2^-1022 (a normal double)
 * and `max` finite and above it; at most 256 bounds.
 */
export function nativeBuckets(schema: number, min: number, max: number): number[] {
  checkIntIn(schema, 'schema', -4, 8);
  if (typeof min !== 'number' || !(min >= MIN_NATIVE_BOUND) || !Number.isFinite(min)) {
    throw new InvalidOptionsError('min', `must be a finite number >= 2^-1022 (${MIN_NATIVE_BOUND}), got ${String(min)}`);
  }
  if (typeof max !== 'number' || !(max > min) || !Number.isFinite(max)) throw new InvalidOptionsError('max', `must be a finite number above min, got ${String(max)}`);
  const hi = nativeIndex(max, schema);
  let lo = nativeIndex(min, schema);
  if (nativeBound(lo, schema) > min) lo--;
  if (hi - lo + 1 > MAX_BUCKETS) {
    throw new InvalidOptionsError('schema', `${hi - lo + 1} bounds from ${min} to ${max} at schema ${schema}; at most ${MAX_BUCKETS}: use a lower schema or a narrower range`);
  }
  return Array.from({ length: hi - lo + 1 }, (_, k) => nativeBound(lo + k, schema));
}
