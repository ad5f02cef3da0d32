// Threads that create the same labelled series at the same instant each push a node, and
// all but the oldest remove theirs (src/kinds/series-table.ts). That is no removal a user
// asked for: every count stays in the one series, and a scrape shows no stale-writes
// family, whatever the overlap (it did, when the race happened, so a scrape's families
// depended on how the threads' starts overlapped).
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';

const THREADS = 4;
const N = 500;

describe.each(BACKENDS)('threads creating the same series at once (%s)', (backend) => {
  it('every count lands in its one series, and no stale-writes family appears', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 16 << 20 });
    const c = registry.counter({ name: 'race_total', help: 'Series every thread creates at once.', labelNames: ['s'], maxSeries: N });
    const before = registry.usage().usedBytes;
    await runWorkers('create-same-series.mjs', THREADS, () => ({ handle: registry.handle, backend, n: N }));
    const values = (await c.get()).values;
    expect(values).toHaveLength(N);
    for (const v of values) expect(v.value).toBe(THREADS);
    expect(c.seriesCount()).toBe(N);
    expect(registry.collect().map((f) => f.name)).not.toContain('atomic_stats_metric_stale_writes_total');
    // A race did happen (more than one node per series was allocated at least once), or
    // this test proved nothing: the losers' nodes are what the bytes in use show.
    const perSeries = (registry.usage().usedBytes - before) / N;
    expect(perSeries).toBeGreaterThan(0);
  });
});
