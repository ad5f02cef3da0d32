// Exemplars written by 3 worker threads while this thread reads them: every exemplar read
// is whole (its labels name its own value), counts stay exact, on every backend.
import { describe, expect, it } from 'vitest';
import { type HistogramValue, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { startFlag, startWorkers } from './helpers/workers.js';

const THREADS = 3;
const COUNT = 20_000;

describe.each(BACKENDS)('exemplars under concurrent writers (%s backend)', (backend) => {
  it(`${THREADS} writers, a reader in this thread: no torn exemplar, exact counts`, async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 8 * 1024 * 1024 });
    const c = registry.counter({ name: 'ex_total', help: 'E.', labelNames: ['k'], enableExemplars: true });
    registry.histogram({ name: 'ex_seconds', help: 'E.', buckets: [1, 1000], enableExemplars: true });
    c.inc({ labels: { k: 'a' }, value: 1, exemplarLabels: { id: 'main', v: '1' } });
    const flag = startFlag();
    const run = startWorkers<{ done: number }>(
      'exemplar-worker.mjs',
      Array.from({ length: THREADS }, (_, index) => ({ handle: registry.handle, backend, index, start: flag.sab, count: COUNT })),
    );
    await new Promise<void>((resolve) => {
      let n = 0;
      for (const w of run.workers) w.on('message', (m) => m === 'ready' && ++n === THREADS && resolve());
    });
    flag.release();
    let finished = false;
    void run.results.then(() => (finished = true));
    let reads = 0;
    const check = () => {
      for (const f of registry.collect()) {
        if (f.name === 'ex_total') {
          // A read that kept meeting writers mid-write reports none; one it reports is whole.
          const e = f.samples[0]!.exemplar;
          if (e === undefined) continue;
          expect(e.labels.v).toBe(String(e.value));
          reads++;
        } else if (f.name === 'ex_seconds') {
          for (const s of f.samples) {
            for (const b of (s.value as HistogramValue).buckets) {
              if (b.exemplar !== undefined) expect(b.exemplar.labels.v).toBe(String(b.exemplar.value));
            }
          }
        }
      }
    };
    while (!finished) {
      check();
      await new Promise((r) => setImmediate(r));
    }
    const before = reads;
    check();
    expect(reads).toBe(before + 1); // quiet now: the last exemplar is there, whole
    expect(reads).toBeGreaterThan(1);
    const total = 1 + THREADS * ((COUNT * (COUNT + 1)) / 2);
    expect((await c.get()).values).toEqual([{ labels: { k: 'a' }, value: total }]);
    const count = registry.collect().find((f) => f.name === 'ex_seconds')!.samples[0]!.value as { count: bigint };
    expect(count.count).toBe(BigInt(THREADS * COUNT));
  });
});
