// The bucket helpers: native-histogram bounds against Prometheus' own (quoted as data),
// the refusal of arguments whose bounds a histogram could not use, and the quantile
// estimate's error bound, with its documented limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StatsRegistry, exponentialBuckets, linearBuckets, nativeBuckets } from '../src/index.js';
import { bucketIndex, quantileFromBuckets } from '../src/kinds/buckets.js';
import { PROMETHEUS_FRACTIONS_8, PROMETHEUS_FRACTIONS_LOW } from './fixtures/prometheus-native-bounds.js';
import { expectRejected } from './helpers/metrics.js';

// ---- a reference built only from the quoted data, with its own arithmetic ----

/** 2^e by doubling or halving 1: exact for every power of two a double holds. */
function twoTo(e: number): number {
  let x = 1;
  for (let k = 0; k < e; k++) x *= 2;
  for (let k = 0; k > e; k--) x /= 2;
  return x;
}

/** Prometheus' upper bound of native bucket i at `schema`. */
function refBound(i: number, schema: number): number {
  if (schema <= 0) {
    const e = i * twoTo(-schema);
    return e === 1024 ? Number.MAX_VALUE : twoTo(e);
  }
  const n = twoTo(schema);
  const k = ((i % n) + n) % n;
  const exp = (i - k) / n + 1;
  const frac = PROMETHEUS_FRACTIONS_8[k * twoTo(8 - schema)]!;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  return frac * 2 * twoTo(exp - 1);
}

/** Prometheus' native bucket of a positive normal v (frexp, then the first fraction >= frac). */
function refIndex(v: number, schema: number): number {
  let frac = v;
  let exp = 0;
  while (frac >= 1) (frac /= 2), exp++;
  while (frac < 0.5) (frac *= 2), exp--;
  if (schema <= 0) {
    const key = frac === 0.5 ? exp - 1 : exp;
    return Math.ceil(key / twoTo(-schema)) + 0; // not -0
  }
  const n = twoTo(schema);
  let k = 0;
  while (k < n && PROMETHEUS_FRACTIONS_8[k * twoTo(8 - schema)]! < frac) k++;
  return k + (exp - 1) * n;
}

const bits = new DataView(new ArrayBuffer(8));
/** The double next to a positive finite x, towards +Infinity (dir 1) or 0 (dir -1). */
function nextTo(x: number, dir: 1 | -1): number {
  bits.setFloat64(0, x);
  bits.setBigUint64(0, bits.getBigUint64(0) + BigInt(dir));
  return bits.getFloat64(0);
}

const SCHEMAS = [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8];

/** Ranges across the whole exponent range, each within 256 bounds at its schema. */
function ranges(schema: number): [number, number][] {
  const perOctave = twoTo(schema);
  const octaves = Math.max(1, Math.min(1000, Math.floor(200 / perOctave)));
  const out: [number, number][] = [];
  for (const e of [-1022, -1000, -700, -300, -64, -20, -3, -1, 0, 1, 5, 30, 100, 500, 900, 1000]) {
    for (const m of [1, 1.1, 1.5, 1.9999]) {
      const min = m * twoTo(e);
      const span = Math.min(octaves, 1023 - e);
      const max = span >= 1 ? min * twoTo(span) * 0.97 : Number.MAX_VALUE;
      if (max > min && Number.isFinite(max)) out.push([min, max]);
    }
  }
  out.push([1.5 * twoTo(1023), Number.MAX_VALUE]);
  out.push([2 ** -1022, 2 ** -1022 * 1.5]);
  return out;
}

describe('nativeBuckets: the bounds of Prometheus native histograms, bit for bit', () => {
  it("Prometheus' tables at schemas 1-3 are its schema-8 table at a stride (the data is one table)", () => {
    for (const s of [1, 2, 3] as const) {
      expect(PROMETHEUS_FRACTIONS_LOW[s]).toEqual(PROMETHEUS_FRACTIONS_LOW[s].map((_, k) => PROMETHEUS_FRACTIONS_8[k << (8 - s)]));
    }
  });

  it.each(SCHEMAS)('schema %i: every bound over ranges across the exponent range equals Prometheus\' bound of that index', (schema) => {
    let compared = 0;
    for (const [min, max] of ranges(schema)) {
      const got = nativeBuckets(schema, min, max);
      let lo = refIndex(min, schema);
      if (refBound(lo, schema) > min) lo--;
      const hi = refIndex(max, schema);
      expect(got).toEqual(Array.from({ length: hi - lo + 1 }, (_, k) => refBound(lo + k, schema)));
      // The range is covered: from the last bound at or below min to the first at or above max.
      expect(got[0]!).toBeLessThanOrEqual(min);
      if (got.length > 1) expect(got[1]!).toBeGreaterThan(min);
      expect(got[got.length - 1]!).toBeGreaterThanOrEqual(max);
      if (got.length > 1) expect(got[got.length - 2]!).toBeLessThan(max);
      compared += got.length;
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('differs from 2 ** (i / 2^schema) where Prometheus does', () => {
    expect(nativeBuckets(1, 1, 2)).toEqual([1, 1.414213562373095, 2]);
    expect(2 ** 0.5).toBe(1.4142135623730951);
    const b = nativeBuckets(8, 1, 1.99);
    expect(b).toHaveLength(256);
    expect(b.filter((x, k) => x !== 2 ** (k / 256)).length).toBeGreaterThan(100);
  });

  it('each bound is 2^(i / 2^schema) to within 4 ulps; 178 of the 256 schema-8 fractions are not the nearest double (exact BigInt check)', () => {
    const b = nativeBuckets(8, 1, 1.99); // 2^(k/256) for k = 0..255, all in [1, 2), where an ulp is 2^-52
    expect(b[0]).toBe(1);
    const off = new Map<number, number>(); // ulps from the nearest double -> how many
    for (let k = 1; k < 256; k++) {
      const X = BigInt(b[k]! * 2 ** 52); // the bound is X * 2^-52 exactly
      // r = 2^(k/256) compared with (Y / 2) * 2^-52: r > that  <=>  2^(k + 53 * 256) > Y^256.
      const above = (Y: bigint) => 1n << BigInt(k + 53 * 256) > Y ** 256n;
      expect(above(2n * (X - 4n))).toBe(true);
      expect(above(2n * (X + 4n))).toBe(false);
      // The double nearest r: N with r between the midpoints N - 1/2 and N + 1/2 (in ulps).
      let N = X;
      while (above(2n * N + 1n)) N++;
      while (!above(2n * N - 1n)) N--;
      const d = Number(X - N);
      off.set(d, (off.get(d) ?? 0) + 1);
    }
    expect(Object.fromEntries([...off].sort((p, q) => p[0] - q[0]))).toEqual({ '-4': 4, '-3': 15, '-2': 58, '-1': 99, '0': 77, '1': 2 });
  });

  it.each(SCHEMAS)('schema %i: an observation at, just below and just above each bound lands in the bucket Prometheus puts it in', (schema) => {
    for (const [min, max] of ranges(schema).filter((_, i) => i % 5 === 0)) {
      const bounds = nativeBuckets(schema, min, max);
      const lo = refIndex(bounds[0]!, schema);
      const f = Float64Array.from(bounds);
      for (let k = 1; k < bounds.length; k++) {
        for (const v of [nextTo(bounds[k]!, -1), bounds[k]!, nextTo(bounds[k - 1]!, 1)]) {
          expect(lo + bucketIndex(f, v)).toBe(refIndex(v, schema));
        }
      }
    }
  });

  it.each(SCHEMAS)('schema %i: the last finite bucket ends at Number.MAX_VALUE, as in Prometheus, so a histogram takes the bounds', (schema) => {
    const b = nativeBuckets(schema, 1.5 * 2 ** 1023, Number.MAX_VALUE);
    expect(b[b.length - 1]).toBe(Number.MAX_VALUE);
    expect(b.every(Number.isFinite)).toBe(true);
    const low = nativeBuckets(schema, 2 ** -1022, 2 ** -1022 * 1.5);
    expect(low[0]! > 0 && low.every((x, i) => i === 0 || x > low[i - 1]!)).toBe(true);
    const r = StatsRegistry.create();
    r.histogram({ name: 'top', help: 'T.', buckets: b }).observe(Number.MAX_VALUE);
    r.histogram({ name: 'bottom', help: 'B.', buckets: low }).observe(2 ** -1022);
  });

  it('refuses arguments whose bounds a histogram could not use, naming the argument, creating nothing', () => {
    const r = StatsRegistry.create();
    r.histogram({ name: 'keep', help: 'K.' }).observe(1);
    const cases: [() => unknown, string][] = [
      [() => nativeBuckets(8, Number.MIN_VALUE, 1e-300), 'min'], // subnormal: bounds round to 0 or to one another
      [() => nativeBuckets(8, 1e-310, 1e-300), 'min'],
      [() => nativeBuckets(0, 0, 1), 'min'],
      [() => nativeBuckets(0, -1, 1), 'min'],
      [() => nativeBuckets(0, NaN, 1), 'min'],
      [() => nativeBuckets(0, Infinity, 1), 'min'],
      [() => nativeBuckets(0, '1' as never, 2), 'min'],
      [() => nativeBuckets(0, 1, 1), 'max'],
      [() => nativeBuckets(0, 1, Infinity), 'max'],
      [() => nativeBuckets(0, 1, NaN), 'max'],
      [() => nativeBuckets(9, 1, 2), 'schema'],
      [() => nativeBuckets(1.5, 1, 2), 'schema'],
      [() => nativeBuckets(8, 1e-9, 1e9), 'schema'], // too many bounds
      [() => linearBuckets(0, 1e308, 3), 'count'], // 2e308 is Infinity
      [() => linearBuckets(-1e308, 1e308, 4), 'count'],
      [() => linearBuckets(1e17, 1, 3), 'width'], // 1e17 + 1 === 1e17
      [() => linearBuckets(0, 0, 3), 'width'],
      [() => linearBuckets(NaN, 1, 3), 'start'],
      [() => linearBuckets(0, 1, 0), 'count'],
      [() => linearBuckets(0, 1, 257), 'count'],
      [() => exponentialBuckets(1e300, 10, 10), 'count'], // 1e309 is Infinity
      [() => exponentialBuckets(5e-324, 1.2, 3), 'factor'], // 5e-324 * 1.2 === 5e-324
      [() => exponentialBuckets(0, 2, 3), 'start'],
      [() => exponentialBuckets(1, 1, 3), 'factor'],
      [() => exponentialBuckets(1, 2, 1.5), 'count'],
    ];
    for (const [make, option] of cases) {
      const e = expectRejected(r, () => r.histogram({ name: 'h_seconds', help: 'H.', buckets: make() as number[] }), InvalidOptionsError) as InvalidOptionsError;
      expect(e.option, e.message).toBe(option);
    }
  });
});

describe('quantile estimate', () => {
  /** The observation of rank q * n (1-based, rounded up; the smallest for rank 0), as the estimate defines it. */
  const trueQuantile = (sorted: readonly number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  const cumulative = (bounds: readonly number[], values: readonly number[]) => {
    const f = Float64Array.from(bounds);
    const counts = new Array<bigint>(bounds.length + 1).fill(0n);
    for (const v of values) counts[bucketIndex(f, v)]!++;
    let c = 0n;
    return counts.map((x) => (c += x));
  };

  it('q = 0 gives the lower edge of the first bucket with observations, not an empty bucket before it', () => {
    // All observations in (2, 4]: the minimum is there, and so must the estimate be.
    expect(quantileFromBuckets(0, [1, 2, 4], [0n, 0n, 5n, 5n])).toBe(2);
    expect(quantileFromBuckets(0, [1, 2, 4], [3n, 3n, 5n, 5n])).toBe(0);
    expect(quantileFromBuckets(0, [1, 2, 4], [0n, 0n, 0n, 2n])).toBe(4); // only +Inf: the largest finite bound
  });

  it('with no observation below the first bucket\'s assumed lower edge, the error is at most the width of the bucket holding the quantile', () => {
    const bounds = fc
      .uniqueArray(fc.double({ min: 0.001, max: 1000, noNaN: true }), { minLength: 1, maxLength: 12 })
      .map((b) => [...b].sort((x, y) => x - y));
    fc.assert(
      fc.property(bounds, fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (b, values, q) => {
        const sorted = [...values].sort((x, y) => x - y);
        const t = trueQuantile(sorted, q);
        const i = bucketIndex(Float64Array.from(b), t);
        if (i === b.length) return; // in +Inf: the documented cap at the largest finite bound
        const width = b[i]! - (i === 0 ? 0 : b[i - 1]!);
        const est = quantileFromBuckets(q, b, cumulative(b, values));
        expect(Math.abs(est - t)).toBeLessThanOrEqual(width * (1 + 1e-12));
      }),
      { numRuns: 2000 },
    );
  });

  it('the documented limit: negative observations in a first bucket with a positive bound lie below the estimate by more than the width', () => {
    const b = [1, 2, 4];
    const values = [-100, -90, -80, 0.5, 3];
    const est = quantileFromBuckets(0.5, b, cumulative(b, values));
    // The estimate stays within the assumed first bucket [0, 1]; the true median is -80.
    expect(est).toBeGreaterThanOrEqual(0);
    expect(est).toBeLessThanOrEqual(1);
    expect(Math.abs(est - trueQuantile(values, 0.5))).toBeGreaterThan(1);
    // With a first bound below every observation the bound holds again.
    const covered = [-128, -64, 0, 1, 2, 4];
    const est2 = quantileFromBuckets(0.5, covered, cumulative(covered, values));
    expect(Math.abs(est2 - -80)).toBeLessThanOrEqual(64);
  });
});
