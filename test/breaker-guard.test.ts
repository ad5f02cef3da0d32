/*
 * The synchronous guard's record of a success (tryAcquire + recordSuccess, no permit, rate
 * window off): the JS backend updates this thread's owned counter stripe inline and reads
 * the state word once, writing it only when there is something to clear or count. These
 * tests pin that path to the Wasm core's: exact counts through every carry of the owned
 * cells and through the shared stripe, and the same word and snapshot as the other
 * backends from any state word, including ones no breaker writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatsRegistry, type CircuitBreaker, type CircuitBreakerMetricsBigInt } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock, breakerOn, rawWord, setRawWord } from './helpers/breaker.js';

const TWO24 = 2 ** 24;

/** This breaker object's owned counter stripe (white-box), 0 when it adds to the shared stripe. */
function stripeOf(b: CircuitBreaker): number {
  return (b as unknown as { stripe: number }).stripe;
}

/** Sets owned cell `field` of the stripe to `value` (< 2^53) as its writer would have left it. */
function setOwned(r: StatsRegistry, stripe: number, field: number, value: number): void {
  const high = Math.floor(value / TWO24);
  new BigUint64Array(r.views.u8.buffer)[(stripe + 24 + field * 8) >>> 3] = BigInt(high);
  new Uint32Array(r.views.u8.buffer)[(stripe + field * 4) >>> 2] = (((high & 0xff) << 24) | (value % TWO24)) >>> 0;
}

const plain = (m: CircuitBreakerMetricsBigInt) => JSON.parse(JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));

describe.each(BACKENDS)('guard success path, %s backend', (backend) => {
  it('counts exactly through the carries of all three owned cells, and through the shared stripe', () => {
    const { registry, breaker } = breakerOn(backend, { failureThreshold: 100 });
    const stripe = stripeOf(breaker);
    expect(stripe).toBeGreaterThan(0);
    // total_calls and success_count two below a carry, the duration ten below one.
    const start = TWO24 * 300 - 2; // high word 299: its tag wraps past 255
    setOwned(registry, stripe, 0, start);
    setOwned(registry, stripe, 1, start);
    setOwned(registry, stripe, 3, TWO24 * 5 - 10);
    // Fractions are truncated; 2^30 - 1 is the largest owned add, 2^30 and up go to the shared stripe.
    const durations = [0, 1, 0.9, 9, TWO24 - 1, TWO24, TWO24 + 1, 2 ** 30 - 1, 2 ** 30, 2 ** 40 + 7, 123.7, 5];
    for (const d of durations) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordSuccess(d);
    }
    const n = BigInt(durations.length);
    const sum = durations.reduce((a, d) => a + BigInt(Math.floor(d)), 0n);
    const m = breaker.metricsBigInt();
    expect(m.total_calls).toBe(BigInt(start) + n);
    expect(m.success_count).toBe(BigInt(start) + n);
    expect(m.total_duration_nanos).toBe(BigInt(TWO24 * 5 - 10) + sum);
    expect(m).toMatchObject({ failure_count: 0n, rejected_calls: 0n, consecutive_failures: 0n, current_state: 'Closed' });
    expect(rawWord(breaker)).toBe(0);
  });

  it('counts exactly without an owned stripe (an attachment beyond the stripes adds to the shared cells)', () => {
    const registry = StatsRegistry.create({ backend, stripes: 1, capacityBytes: 1 << 20 });
    const other = StatsRegistry.attach(registry.handle, { backend });
    const b = other.circuitBreaker('s');
    expect(stripeOf(b)).toBe(0);
    for (const d of [3, TWO24 + 1, 2 ** 35]) {
      expect(b.tryAcquire()).toBe(true);
      b.recordSuccess(d);
    }
    expect(registry.circuitBreaker('s').metricsBigInt()).toMatchObject({ total_calls: 3n, success_count: 3n, total_duration_nanos: BigInt(3 + TWO24 + 1 + 2 ** 35) });
  });

  it('a success clears consecutive failures and only then writes the word', () => {
    const { breaker } = breakerOn(backend, { failureThreshold: 5 });
    breaker.recordFailure(1);
    breaker.recordFailure(1);
    expect(rawWord(breaker)).not.toBe(0);
    expect(breaker.metricsBigInt().consecutive_failures).toBe(2n);
    breaker.recordSuccess(1);
    expect(rawWord(breaker)).toBe(0);
    expect(breaker.metricsBigInt().consecutive_failures).toBe(0n);
    // Four more failures do not open it: the count restarted at the success.
    for (let i = 0; i < 4; i++) breaker.recordFailure(1);
    expect(breaker.state).toBe('Closed');
    breaker.recordFailure(1);
    expect(breaker.state).toBe('Open');
  });

  it('in HalfOpen, successes without a permit count as probes and the last one closes the breaker', () => {
    const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 10, successThreshold: 3 });
    breaker.recordFailure(1);
    clock.advance(10);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.state).toBe('HalfOpen');
    breaker.recordSuccess(2);
    breaker.recordSuccess(2);
    expect(breaker.state).toBe('HalfOpen');
    expect(breaker.metricsBigInt().half_open_calls).toBe(2n); // successes in this half-open period
    breaker.recordSuccess(2);
    expect(breaker.state).toBe('Closed');
    expect(rawWord(breaker)).toBe(0);
    expect(breaker.metricsBigInt()).toMatchObject({ total_calls: 4n, success_count: 3n, failure_count: 1n, total_duration_nanos: 7n, times_opened: 1n });
  });

  it('a bad duration throws before anything is counted or read', () => {
    const { breaker } = breakerOn(backend);
    breaker.recordFailure(1);
    const word = rawWord(breaker);
    const before = breaker.metricsBigInt();
    for (const d of [-1, Number.NaN, Infinity, 2 ** 64, '5' as unknown as number]) expect(() => breaker.recordSuccess(d)).toThrow();
    expect(rawWord(breaker)).toBe(word);
    expect(breaker.metricsBigInt()).toEqual(before);
  });
});

describe('guard success path: every backend leaves the same word and counts', () => {
  // Any int32 as the state word (most are states no breaker writes, as memory corrupted by
  // something else would hold), a permit request, then a success: the three backends must
  // answer the same, leave the same word and show the same snapshot.
  it('from any state word (2000 runs)', () => {
    const clock = new FakeClock(5_000_000);
    const config = { failureThreshold: 3, timeoutMs: 50, successThreshold: 2, probeLeaseMs: 100 };
    const breakers = BACKENDS.map((backend) => StatsRegistry.create({ backend, capacityBytes: 4 << 20 }));
    let n = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 1 << 10 })),
        fc.oneof(fc.nat({ max: 2 ** 31 }), fc.constantFrom(0, TWO24 - 1, 2 ** 30 - 1, 2 ** 30), fc.double({ min: 0, max: 2 ** 40, noNaN: true })),
        fc.integer({ min: 0, max: 200 }),
        (word, d, advance) => {
          const name = `w${n++}`;
          const bs = breakers.map((r) => r.circuitBreaker(name, config, { clock: clock.read }));
          bs.forEach((b) => setRawWord(b, word));
          clock.advance(advance);
          const out = bs.map((b) => {
            const permit = b.tryAcquire();
            b.recordSuccess(d);
            return { permit, word: rawWord(b), metrics: plain(b.metricsBigInt()) };
          });
          expect(out[1]).toEqual(out[0]);
          expect(out[2]).toEqual(out[0]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
