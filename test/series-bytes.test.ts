// The memory-per-series formula of docs/metrics.md ("Memory per series"), computed here
// from the documented terms alone and checked against what the registry really
// allocates for each new series (usage().usedBytes before and after).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';

const up = (n: number, to = 128) => Math.ceil(n / to) * to;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** The documented formula: H + ⌈D⌉, H = 128 while K = Σ (2 + v) ≤ 64, else 384; cells of D ≤ 16 bytes inside the head, 128 in all, while K ≤ 56. */
// `striped` as the option: omitted ('adaptive', the default: the cells and the word naming
// their stripes once contended), true or false (a gauge and a summary: omitted or false).
function formula(kind: Kind, _family: string, labels: Record<string, string>, o: { striped?: boolean | 'adaptive'; stripes: number; bounds?: number; slices?: number }): number {
  let K = 0;
  for (const v of Object.values(labels)) K += 2 + bytes(v);
  const H = K <= 64 ? 128 : 384;
  const word = (o.striped ?? 'adaptive') === 'adaptive' ? 8 : 0;
  let D: number;
  if (kind === 'gauge') D = 8 + word;
  else if (kind === 'summary') D = 24 + 4112 * (o.slices ?? 1);
  else if (kind === 'counter') D = o.striped === true ? 128 * (o.stripes + 1) : 8 + word;
  else {
    const c = (o.bounds ?? 11) + 2;
    D = o.striped === true ? up(8 * c) + o.stripes * up(up(4 * c, 8) + 8 * c) : 8 * c + word;
  }
  // Cells of at most 16 bytes live inside a small head: one 128-byte block while K ≤ 56.
  if (D <= 16) return K <= 56 ? 128 : 384 + 128;
  return H + up(D);
}

/** What the registry allocates for one new series of a metric already opened. */
function measured(kind: Kind, def: Record<string, unknown>, labels: Record<string, string>, stripes: number): number {
  const r = StatsRegistry.create({ stripes });
  const m = (r[kind] as (d: unknown) => { labels(l: Record<string, string>): unknown })(def);
  const before = r.usage().usedBytes;
  m.labels(labels);
  return r.usage().usedBytes - before;
}

const LABELS: [string, Record<string, string>][] = [
  ['one short label', { id: 'u1' }],
  ['a value just filling one block', { id: 'x'.repeat(9) }],
  ['one byte more', { id: 'x'.repeat(10) }],
  ['a key of exactly 56 bytes', { id: 'x'.repeat(54) }],
  ['a key one byte past an inline node', { id: 'x'.repeat(55) }],
  ['a key of exactly 64 bytes', { id: 'x'.repeat(62) }],
  ['a key one byte past a small head', { id: 'x'.repeat(63) }],
  ['two labels', { route: '/api/users', code: '200' }],
  ['escaped values', { path: 'a"b\\c\nd', q: '\t' }],
  ['multi-byte UTF-8', { city: 'Zürich 東京 🚀' }],
  ['long values', { a: 'v'.repeat(60), b: 'w'.repeat(70) }],
  ['many labels', Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`label_${i}`, `value_${i}`]))],
];

describe('bytes per series: the formula of docs/metrics.md against usage().usedBytes', () => {
  for (const stripes of [1, 4, 16]) {
    for (const [what, labels] of LABELS) {
      const labelNames = Object.keys(labels);
      it.each([
        ['counter', 'c', {}],
        ['counter', 'http_requests_total', {}],
        ['counter', 'http_requests_total', { striped: true }],
        ['counter', 'http_requests_total', { striped: false }],
        ['counter', 'fractions_total', { float: true, striped: true }],
        ['gauge', 'g', {}],
        ['gauge', 'connections_in_flight', {}],
        ['gauge', 'connections_in_flight', { striped: false }],
        ['histogram', 'h', {}],
        ['histogram', 'http_request_duration_seconds', { striped: true }],
        ['histogram', 'd_seconds', { buckets: [1] }],
        // 16 cells of 8 bytes: exactly one block with striped: false, one more for the adaptive word.
        ['histogram', 'd_seconds', { buckets: Array.from({ length: 14 }, (_, i) => i + 1) }],
        ['histogram', 'd_seconds', { buckets: Array.from({ length: 14 }, (_, i) => i + 1), striped: false }],
        ['histogram', 'd_seconds', { buckets: Array.from({ length: 40 }, (_, i) => i + 1), striped: true }],
        ['summary', 's_seconds', {}],
        ['summary', 's_seconds', { striped: false }],
        ['summary', 's_seconds', { maxAgeSeconds: 60, ageBuckets: 5 }],
        ['summary', 's_seconds', { maxAgeSeconds: 60, ageBuckets: 3, striped: false }],
      ] as [Kind, string, Record<string, unknown>][])(`%s %s %j, ${what}, ${stripes} stripes`, (kind, name, extra) => {
        const def = { name, help: 'Help.', labelNames, ...extra };
        const bounds = (extra.buckets as number[] | undefined)?.length;
        const slices = extra.ageBuckets as number | undefined;
        const want = formula(kind, name, labels, { striped: extra.striped as boolean | undefined, stripes, ...(bounds === undefined ? {} : { bounds }), ...(slices === undefined ? {} : { slices }) });
        expect(measured(kind, def, labels, stripes)).toBe(want);
      });
    }
  }

  it('gives the figures of the table in docs/metrics.md (16 stripes)', () => {
    // Rows: | <kind> `family{a="x",...}`[, default buckets] | head | cells | bytes |, or
    // | the same <kind>, striped | ... | for the row above it, striped.
    const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Memory per series'), doc.indexOf('## Errors'));
    const rows = section.split('\n').filter((l) => /^\| (counter|gauge|histogram|summary|the same)/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(7);
    let last: { kind: Kind; name: string; labels: Record<string, string> } | undefined;
    for (const row of rows) {
      const cells = row.split('|').map((c) => c.trim());
      const total = Number(cells[4]!.replace(/,/g, ''));
      let striped: boolean | undefined;
      if (cells[1]!.startsWith('the same')) {
        expect(cells[1]).toMatch(/, striped$/);
        striped = true;
      } else {
        const m = /^(counter|gauge|histogram|summary) `([a-z_]+)\{(.*)\}`/.exec(cells[1]!);
        expect(m, row).not.toBeNull();
        const labels: Record<string, string> = {};
        for (const [, l, v] of m![3]!.matchAll(/([a-z_]+)="([^"]*)"/g)) labels[l!] = v!;
        last = { kind: m![1] as Kind, name: m![2]!, labels };
      }
      const { kind, name, labels } = last!;
      expect(formula(kind, name, labels, { ...(striped ? { striped } : {}), stripes: 16 }), row).toBe(total);
      const def = { name, help: 'Help.', labelNames: Object.keys(labels), ...(striped ? { striped } : {}) };
      expect(measured(kind, def, labels, 16), row).toBe(total);
    }
  });
});
