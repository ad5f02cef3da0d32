// A summary written by 3 worker threads at once: count and sum exact, and every
// percentile within the stated relative error of the exact percentile of all the data.
import { describe, expect, it } from 'vitest';
import { SUMMARY_RELATIVE_ERROR, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { startFlag, startWorkers } from './helpers/workers.js';

const THREADS = 3;
const COUNT = 30_000;
const PERCENTILES = [0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999];
const value = (w: number, i: number) => (((i * 7919 + w * 104729) % 100_000) + 1) / 1024;

describe.each(BACKENDS)('a summary shared by %s worker threads', (backend) => {
  it(`${THREADS} threads x ${COUNT} observations: exact count and sum, percentiles within ${(SUMMARY_RELATIVE_ERROR * 100).toFixed(2)} %`, async () => {
    const registry = StatsRegistry.create({ backend });
    const s = registry.summary({ name: 'shared_seconds', help: 'S.', labelNames: ['route'], percentiles: PERCENTILES });
    const flag = startFlag();
    const run = startWorkers<{ done: number }>(
      'summary-worker.mjs',
      Array.from({ length: THREADS }, (_, index) => ({ handle: registry.handle, backend, index, start: flag.sab, count: COUNT, percentiles: PERCENTILES })),
    );
    await new Promise<void>((resolve) => {
      let n = 0;
      for (const w of run.workers) w.on('message', (m) => m === 'ready' && ++n === THREADS && resolve());
    });
    flag.release();
    await run.results;
    const all: number[] = [];
    for (let w = 0; w < THREADS; w++) for (let i = 0; i < COUNT; i++) all.push(value(w, i));
    all.sort((a, b) => a - b);
    const values = (await s.get()).values;
    expect(values.find((v) => v.metricName === 'shared_seconds_count')!.value).toBe(THREADS * COUNT);
    expect(values.find((v) => v.metricName === 'shared_seconds_sum')!.value).toBe(all.reduce((a, b) => a + b, 0));
    const got = values.filter((v) => v.metricName === undefined);
    expect(got.map((v) => v.labels.quantile)).toEqual(PERCENTILES);
    for (const v of got) {
      const exact = all[Math.max(1, Math.ceil((v.labels.quantile as number) * all.length)) - 1]!;
      expect(Math.abs(v.value - exact) / exact).toBeLessThanOrEqual(SUMMARY_RELATIVE_ERROR + 1e-12);
    }
  });
});
