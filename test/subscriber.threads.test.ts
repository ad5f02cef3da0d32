// Completions recorded from several worker threads at once: exact totals.
import { describe, expect, it } from 'vitest';
import { StatsRegistry, WorkerEventSubscriber } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';

const THREADS = 4;
const N = 100_000;

function expectedCompletions(n: number) {
  let malformed = 0;
  let success = 0;
  for (let i = 0; i < n; i++) {
    if (i % 7 === 0) malformed++;
    if (i % 2 === 0) success++;
  }
  return { malformed, success, failed: n - success };
}

describe.each(BACKENDS)('subscriber stats from %s threads', (backend) => {
  it('4 subscribers on one name x 100,000 completions: exact totals', async () => {
    const registry = StatsRegistry.create({ backend });
    const results = await runWorkers<{ converted: number }>('subscriber-stress.mjs', THREADS, () => ({
      handle: registry.handle,
      backend,
      name: 'subs',
      n: N,
      mode: 'local',
    }));
    const e = expectedCompletions(N);
    for (const r of results) expect(r.converted).toBe(N - e.malformed);
    const s = registry.workerSubscriberStats('subs').snapshot('main');
    expect(s).toEqual({
      worker_id: 'main',
      completions_received: THREADS * N,
      successful_completions: THREADS * e.success,
      failed_completions: THREADS * e.failed,
      conversion_errors: THREADS * e.malformed,
      unmatched_correlations: 0,
    });
    expect(s.completions_received).toBe(s.successful_completions + s.failed_completions);
  });
});

describe('completions from 4 threads to one subscriber through ports', () => {
  it('every completion arrives and is counted once', async () => {
    const registry = StatsRegistry.create();
    const sub = new WorkerEventSubscriber({ registry, name: 'ported', workerId: 'main', logger: { warn() {} } });
    let results = 0;
    sub.onResult(() => results++);
        const n = N;
    const all = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        const s = sub.getStatistics();
        if (s.completions_received + s.conversion_errors >= THREADS * n) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await runWorkers(
      'subscriber-stress.mjs',
      THREADS,
      () => {
        const port = sub.createCompletionPort();
        return { n, mode: 'port', port };
      },
      (_i, d) => [d.port],
    );
    await all;
    const e = expectedCompletions(n);
    const s = sub.getStatistics();
    expect(s).toEqual({
      worker_id: 'main',
      completions_received: THREADS * n,
      successful_completions: THREADS * e.success,
      failed_completions: THREADS * e.failed,
      conversion_errors: THREADS * e.malformed,
      // Nothing was registered as pending, so every converted completion is unmatched.
      unmatched_correlations: THREADS * (n - e.malformed),
    });
    expect(results).toBe(THREADS * (n - e.malformed));
    sub.close();
  });
});
