/*
 * Users' metric families in collect(): prepared once per record, like the built-in
 * families (a later collection parses no signature and opens no entry), exported under
 * their own names after the built-in families, in creation order, each with its series
 * in theirs, never merged with a built-in family of the same name.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type HistogramValue, StatsRegistry } from '../src/index.js';
import { cellAddresses, setGeometry } from '../src/layout.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function populated(): StatsRegistry {
  const r = StatsRegistry.create();
  r.counters('s', ['a']).counter('a').add(3);
  r.gauge({ name: 'g_plain', help: 'h' }).set(1.5);
  const c = r.counter({ name: 'c_total', help: 'h', labelNames: ['route'] });
  c.inc({ route: '/a' }, 2);
  c.inc({ route: '/b' }, 3);
  r.histogram({ name: 'h_seconds', help: 'h', buckets: [1], labelNames: ['k'] }).observe({ k: 'x' }, 0.5);
  r.gauge({ name: 'g_empty', help: 'h', labelNames: ['p'] });
  r.counter({ name: 'f_total', help: 'h', float: true }).inc(0.25);
  return r;
}

describe('collect(): users metric families', () => {
  it('are prepared once: a later collection parses no signature and opens no entry', () => {
    const r = populated();
    const first = r.collect();
    const parse = vi.spyOn(JSON, 'parse');
    const open = vi.spyOn(r, 'openEntry');
    const second = r.collect();
    expect(parse).not.toHaveBeenCalled();
    expect(open).not.toHaveBeenCalled();
    expect(second).toEqual(first);
  });

  it('come after the built-in families, in creation order, each with its series in theirs, with the integer flag of their definition', () => {
    const r = populated();
    const families = r.collect();
    const names = families.map((f) => f.name);
    const firstUser = names.indexOf('g_plain');
    expect(names.slice(0, firstUser).every((n) => n.startsWith('atomic_stats_'))).toBe(true);
    expect(names.slice(firstUser)).toEqual(['g_plain', 'c_total', 'h_seconds', 'g_empty', 'f_total']);
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('g_plain')).toEqual({ name: 'g_plain', help: 'h', type: 'gauge', integer: false, samples: [{ labels: {}, value: 1.5 }] });
    expect(byName.get('c_total')).toEqual({
      name: 'c_total',
      help: 'h',
      type: 'counter',
      integer: true,
      samples: [
        { labels: { route: '/a' }, value: 2n },
        { labels: { route: '/b' }, value: 3n },
      ],
    });
    // A family with no series yet is exported, empty; a float counter does not count integers.
    expect(byName.get('g_empty')!.samples).toEqual([]);
    expect(byName.get('f_total')).toMatchObject({ integer: false, samples: [{ labels: {}, value: 0.25 }] });
    expect(byName.get('h_seconds')!.samples[0]!.value).toMatchObject({ count: 1n, sum: 0.5 });
  });

  it('see families and series created after the first collection, by any registry object', () => {
    const r = populated();
    r.collect();
    const other = StatsRegistry.attach(r.handle);
    other.counter({ name: 'c_total', help: 'h', labelNames: ['route'] }).inc({ route: '/c' });
    other.gauge({ name: 'g_late', help: 'h' }).set(7);
    const byName = new Map(r.collect().map((f) => [f.name, f]));
    expect(byName.get('c_total')!.samples.map((s) => s.labels.route)).toEqual(['/a', '/b', '/c']);
    expect(byName.get('g_late')!.samples).toEqual([{ labels: {}, value: 7 }]);
    expect([...byName.keys()].at(-1)).toBe('g_late');
  });

  it('are never merged with a built-in family of the same name (a custom prefix can make one)', () => {
    const r = StatsRegistry.create();
    r.counters('s', ['a']).counter('a').add(3);
    r.counter({ name: 'set_s_total', help: 'mine' }).inc(4);
    const same = r.collect({ prefix: '' }).filter((f) => f.name === 'set_s_total');
    expect(same.map((f) => [f.help, f.samples.map((s) => s.value)])).toEqual([
      ['Counter set "s", one series per field.', [3n]],
      ['mine', [4n]],
    ]);
  });

  it('a record of the former per-series kind (metricSeries) is never read as a series: series live in the family table', () => {
    const r = StatsRegistry.create();
    // A record as the former layout wrote one series, with a value in its cell.
    const rec = r.directory.findOrCreate({
      name: 'early{a="x"}',
      kind: 9,
      signature: JSON.stringify({ kind: 'metricSeries', of: 'gauge', family: 'early', labels: { a: 'x' } }),
      dataBytes: 8,
    });
    new Float64Array(r.views.u8.buffer, rec.dataOffset, 1)[0] = 42;
    const g = r.gauge({ name: 'early', help: 'h', labelNames: ['a'] });
    expect(r.collect().find((f) => f.name === 'early')!.samples).toEqual([]);
    g.set({ a: 'x' }, 5);
    expect(r.entries().map((e) => e.name)).toEqual(['early{a="x"}', 'early']);
    expect(r.collect().find((f) => f.name === 'early')!.samples).toEqual([{ labels: { a: 'x' }, value: 5 }]);
  });

  describe.each([false, true])('histogram counts read past 2^53 (striped: %s)', (striped) => {
    // Bucket counts written straight into the cells (no one observes 2^53 times): the
    // shared cell of each bucket, which a read adds to the stripes.
    function histogramWith(counts: readonly bigint[]): { r: StatsRegistry; value: () => HistogramValue } {
      const r = StatsRegistry.create({ stripes: 2 });
      r.histogram({ name: 'big_seconds', help: 'h', buckets: [1, 2], striped });
      const rec = r.checkedRecords().find((x) => x.name === 'big_seconds')!;
      const g = setGeometry(counts.length + 1, striped, r.stripes);
      const u64 = new BigUint64Array(r.views.u8.buffer);
      counts.forEach((c, i) => {
        u64[cellAddresses(g, rec.dataOffset, i, 0).shared >>> 3] = c;
      });
      return { r, value: () => r.collect().find((f) => f.name === 'big_seconds')!.samples[0]!.value as HistogramValue };
    }
    const cumulative = (v: HistogramValue) => v.buckets.map((b) => b.count);

    it('a bucket above 2^53 is exact', () => {
      const { value } = histogramWith([2n ** 53n + 5n, 3n, 0n]);
      expect(cumulative(value())).toEqual([2n ** 53n + 5n, 2n ** 53n + 8n, 2n ** 53n + 8n]);
      expect(value().count).toBe(2n ** 53n + 8n);
    });

    it('buckets below 2^53 whose sum is above are exact', () => {
      const { value } = histogramWith([2n ** 52n, 2n ** 52n + 1n, 1n]);
      expect(cumulative(value())).toEqual([2n ** 52n, 2n ** 53n + 1n, 2n ** 53n + 2n]);
    });

    it('the cumulative count wraps at 2^64 like the cells', () => {
      const { value } = histogramWith([2n ** 64n - 1n, 2n, 0n]);
      expect(cumulative(value())).toEqual([2n ** 64n - 1n, 1n, 1n]);
      expect(value().count).toBe(1n);
    });

    it('small counts stay exact bigints', () => {
      const { value } = histogramWith([7n, 0n, 2n]);
      expect(cumulative(value())).toEqual([7n, 7n, 9n]);
      expect(value().count).toBe(9n);
    });
  });
});
