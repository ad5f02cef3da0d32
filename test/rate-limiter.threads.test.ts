/*
 * The rate limiter's invariants with real worker threads, on every backend: across 4
 * threads, grants in any window of intervalMs never exceed tokensPerInterval + burst, and
 * with demand far above the rate they stay within 2% of it over 10 s (on a clock the
 * threads share and advance themselves, so 10 s of limiter time take what the threads'
 * loops take, and each grant's time is the time the limiter decided it at); acquire()
 * serves waiting threads first come, first served, so none waits more than 2 intervals'
 * worth of grants behind the others.
 */
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';

const THREADS = 4;

describe.each(BACKENDS)('rate limiter across 4 threads, %s backend', (backend) => {
  it('never more than tokensPerInterval + burst in any window; within 2% of the rate over 10 s; exact counts', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { tokensPerInterval: 50, intervalMs: 100, burst: 10 };
    const limiter = registry.rateLimiter('geo', config);
    const clock = new SharedArrayBuffer(4);
    const endUs = 10_000_000; // 10 s
    const results = await runWorkers<{ grants: Int32Array; refused: number }>('rate-limiter-worker.mjs', THREADS, () => ({
      mode: 'virtual',
      handle: registry.handle,
      backend,
      name: 'geo',
      config,
      clock,
      step: 3,
      endUs,
    }));
    const grants = results.flatMap((r) => Array.from(r.grants)).sort((a, b) => a - b);
    const windowUs = config.intervalMs * 1000;
    let worst = 0;
    for (let i = 0, j = 0; i < grants.length; i++) {
      while (grants[i]! - grants[j]! >= windowUs) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(config.tokensPerInterval + config.burst);
    // Demand was far above the rate: every thread was refused, many times.
    for (const r of results) expect(r.refused).toBeGreaterThan(1000);
    const expected = (config.tokensPerInterval * 10_000) / config.intervalMs; // 5000 in 10 s
    const inTenSeconds = grants.filter((t) => t < endUs).length;
    expect(Math.abs(inTenSeconds - expected)).toBeLessThanOrEqual(expected * 0.02);
    const refused = results.reduce((a, r) => a + r.refused, 0);
    expect(limiter.metricsBigInt()).toMatchObject({ granted: BigInt(grants.length), granted_tokens: BigInt(grants.length), refused: BigInt(refused) });
  });

  it('acquire(): waiting threads are served first come, first served (exact totals)', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { tokensPerInterval: 10, intervalMs: 50, burst: 1 };
    const limiter = registry.rateLimiter('fair', config);
    const seq = new SharedArrayBuffer(4);
    const count = 25;
    const results = await runWorkers<{ seqs: number[] }>('rate-limiter-worker.mjs', THREADS, () => ({
      mode: 'acquire',
      handle: registry.handle,
      backend,
      name: 'fair',
      config,
      seq,
      count,
    }));
    expect(new Int32Array(seq)[0]).toBe(THREADS * count);
    // Each thread asks again as soon as it is served: between two of its grants the
    // others get theirs, never more than 2 intervals' worth of tokens.
    for (const { seqs } of results) {
      expect(seqs).toHaveLength(count);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! - seqs[i - 1]!).toBeLessThanOrEqual(2 * config.tokensPerInterval);
    }
    expect(limiter.metrics()).toMatchObject({ granted: THREADS * count, refused: 0, aborted: 0 });
  });
});
