// Exemplars on counters and histograms (`enableExemplars: true`): prom-client's call shapes,
// its OpenMetrics output line for line, none in the text format, bounded labels, and
// rejected input that records nothing.
import client from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { InvalidCountError, InvalidLabelsError, InvalidValueError, NameConflictError, StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { openMetricsRegistry } from './helpers/exporters.js';
import { expectRejected } from './helpers/metrics.js';

// Every exemplar written in these tests is stamped with this time.
const NOW = 1_700_000_000_000;
const lines = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('atomic_stats_'));

describe.each(BACKENDS)('exemplars (%s backend)', (backend) => {
  it("the OpenMetrics output is prom-client's, line for line; the text format has no exemplars", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    try {
      const r = StatsRegistry.create({ backend });
      const ours = openMetricsRegistry();
      registerAtomicStats(r, { register: ours });
      const theirs = openMetricsRegistry();
      type Inc = { inc(d: { labels?: Record<string, string>; value?: number; exemplarLabels?: Record<string, string> }): void };
      type Obs = { observe(d: { labels?: Record<string, string>; value: number; exemplarLabels?: Record<string, string> }): void };
      const counters: Inc[] = [
        r.counter({ name: 'req_total', help: 'R.', labelNames: ['route'], enableExemplars: true }),
        new client.Counter({ name: 'req_total', help: 'R.', labelNames: ['route'], enableExemplars: true, registers: [theirs] }),
      ];
      const histograms: Obs[] = [
        r.histogram({ name: 'lat_seconds', help: 'L.', labelNames: ['route'], buckets: [0.1, 1], enableExemplars: true }),
        new client.Histogram({ name: 'lat_seconds', help: 'L.', labelNames: ['route'], buckets: [0.1, 1], enableExemplars: true, registers: [theirs] }),
      ];
      for (const c of counters) {
        c.inc({ labels: { route: '/a' }, value: 2, exemplarLabels: { traceId: 'abc' } });
        c.inc({ labels: { route: '/a' }, value: 3, exemplarLabels: { traceId: 'def', spanId: 'ü1' } });
        c.inc({ labels: { route: '/b' } });
      }
      for (const h of histograms) {
        h.observe({ labels: { route: '/a' }, value: 0.05, exemplarLabels: { traceId: 't1' } });
        h.observe({ labels: { route: '/a' }, value: 0.5, exemplarLabels: { traceId: 't2' } });
        h.observe({ labels: { route: '/a' }, value: 5 });
      }
      // Label order on the wire differs (ours sorted), so compare each line's parts.
      const norm = (l: string) => l.replace(/\{([^}]*)\}/g, (_, inner: string) => `{${inner.split(',').sort().join(',')}}`);
      expect(lines(await ours.metrics()).map(norm).sort()).toEqual(lines(await theirs.metrics()).map(norm).sort());
      expect(await ours.metrics()).toContain('# {traceId="def",spanId="ü1"} 3 1700000000');
      const text = new client.Registry();
      registerAtomicStats(r, { register: text });
      expect(await text.metrics()).not.toContain('traceId');
      // collect() carries them.
      const f = r.collect().find((x) => x.name === 'req_total')!;
      expect(f.samples.find((s) => s.labels.route === '/a')!.exemplar).toEqual({ labels: { traceId: 'def', spanId: 'ü1' }, value: 3, timestamp: NOW / 1000 });
      expect(f.samples.find((s) => s.labels.route === '/b')!.exemplar).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('labels past 128 characters, bad labels, values and shapes are typed errors that record nothing', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'c_total', help: 'C.', enableExemplars: true });
    const h = r.histogram({ name: 'h_seconds', help: 'H.', enableExemplars: true });
    c.inc({ value: 1, exemplarLabels: { a: 'x'.repeat(127) } }); // 128 characters: allowed
    for (const exemplarLabels of [{ a: 'x'.repeat(128) }, { 'not a name': 'x' }, { a: {} }, 'a', [1]]) {
      expectRejected(r, () => c.inc({ value: 1, exemplarLabels } as never), InvalidLabelsError);
      expectRejected(r, () => h.observe({ value: 1, exemplarLabels } as never), InvalidLabelsError);
    }
    expectRejected(r, () => c.inc({ value: 1, exemplar: {} } as never), InvalidLabelsError);
    expectRejected(r, () => c.inc({ value: -1, exemplarLabels: { a: 'b' } }), InvalidCountError);
    expectRejected(r, () => h.observe({ value: NaN, exemplarLabels: { a: 'b' } }), InvalidValueError);
    expectRejected(r, () => r.counter({ name: 'c_total', help: 'C.' }), NameConflictError);
  });

  it('without enableExemplars an object is a label set, as before', async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'plain_total', help: 'P.', labelNames: ['value'] });
    c.inc({ value: 'x' }, 2);
    expect((await c.get()).values).toEqual([{ labels: { value: 'x' }, value: 2 }]);
    expect(r.collect().find((f) => f.name === 'plain_total')!.samples[0]!.exemplar).toBeUndefined();
  });
});
