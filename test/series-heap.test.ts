/*
 * What a cached labelled series costs its thread's heap, besides the child itself. Every
 * thread that touches a series keeps a child for it, so a per-child record multiplies by
 * the threads: the metric once kept, for each child, a { node, values } record and an
 * array of its label values (about 125 bytes a child in every thread). It now keeps the
 * node in a packed array and reads the values from its label tree when it needs them.
 * Structural, not a byte count: a heap snapshot of a fresh process, taken before and
 * after N series are cached, must show no plain object and no array per series (the
 * child is an instance of its kind's class; the label tree's Map entries are not objects).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';

const DIST = new URL('../dist/index.js', import.meta.url).href;
const N = 2000;
const SCRIPT = (backend: string) => `
import { getHeapSnapshot } from 'node:v8';
const S = await import(${JSON.stringify(DIST)});
// Objects of the heap by constructor name: count and bytes, as JSON text (a string is no
// object, and nothing of one count is alive when the next snapshot is taken).
function census() {
  const chunks = [];
  const stream = getHeapSnapshot();
  for (let c; (c = stream.read()) !== null; ) chunks.push(c);
  const snap = JSON.parse(Buffer.concat(chunks).toString());
  const f = snap.snapshot.meta.node_fields;
  const objectType = snap.snapshot.meta.node_types[0].indexOf('object');
  const [type, name, size] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x));
  const out = {};
  for (let i = 0; i < snap.nodes.length; i += f.length) {
    if (snap.nodes[i + type] !== objectType) continue;
    const n = snap.strings[snap.nodes[i + name]];
    const e = (out[n] ??= { count: 0, bytes: 0 });
    e.count++;
    e.bytes += snap.nodes[i + size];
  }
  return JSON.stringify(out);
}
const r = S.StatsRegistry.create({ backend: ${JSON.stringify(backend)}, capacityBytes: 64 << 20 });
const c = r.counter({ name: 'tenant_requests_total', help: 'T.', labelNames: ['tenant'], maxSeries: ${N + 8} });
for (let i = 0; i < 8; i++) c.labels({ tenant: 'warm' + i }).inc();
census(); // the snapshot machinery's own objects, made once, before the count
const beforeText = census();
for (let i = 0; i < ${N}; i++) c.labels({ tenant: 't' + i }).inc();
const after = JSON.parse(census());
const before = JSON.parse(beforeText);
const perSeries = {};
for (const [n, e] of Object.entries(after)) {
  const d = e.count - (before[n]?.count ?? 0);
  if (d !== 0) perSeries[n] = { count: d / ${N}, bytes: (e.bytes - (before[n]?.bytes ?? 0)) / ${N} };
}
if (c.seriesCount() !== ${N + 8}) throw new Error('series: ' + c.seriesCount());
console.log(JSON.stringify(perSeries));
`;

describe.each(BACKENDS)('heap per cached labelled series (%s backend)', (backend) => {
  it('a cached child costs its thread no plain object and no array beside the child', () => {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT(backend)], { encoding: 'utf8', maxBuffer: 16 << 20 });
    expect(p.status, p.stderr).toBe(0);
    const perSeries = JSON.parse(p.stdout) as Record<string, { count: number; bytes: number }>;
    const shown = JSON.stringify(perSeries);
    // Counts per series: 1 would be one per child. A few objects of the run itself are allowed.
    expect(perSeries.Object?.count ?? 0, shown).toBeLessThan(0.01);
    expect(perSeries.Array?.count ?? 0, shown).toBeLessThan(0.01);
    // The child itself is there: the census sees the series it should.
    expect(Object.values(perSeries).some((e) => e.count >= 1), shown).toBe(true);
  });
});
