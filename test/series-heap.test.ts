/*
 * What a labelled series costs the heap of each thread that touches it, besides the child
 * itself. Every thread that writes a series keeps a child for it, so a per-child record
 * multiplies by the threads: the metric once kept, for each child, a { node, values }
 * record and an array of its label values (about 125 bytes a child in every thread). It
 * now finds the node from the child's cells and reads the values from its label tree when
 * it needs them. And its label tree once kept a Map per value of the first label in sorted
 * order, one per series when that label has a value per series. Structural: heap
 * snapshots of a fresh process, taken before and after N series are cached, must show no
 * plain object, no array and no Map per series (the child is an instance of its kind's
 * class; the label tree's Map entries are not objects). And a
 * thread that scrapes keeps one labels object per series, sized to its properties.
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
// \`path\` sorts before \`status\` and has a value per series: the label tree must not keep a Map per path.
const c = r.counter({ name: 'requests_total', help: 'T.', labelNames: ['status', 'path'], maxSeries: ${N + 8} });
for (let i = 0; i < 8; i++) c.labels({ path: '/warm' + i, status: '200' }).inc();
census(); // the snapshot machinery's own objects, made once, before the count
const beforeText = census();
for (let i = 0; i < ${N}; i++) c.labels({ path: '/p' + i, status: '200' }).inc();
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

// The scraping thread keeps each series' labels object (the same object at every scrape
// while the series lives): the plain objects a scrape leaves behind, and the sizes of the
// labels objects, found in a heap snapshot as the plain objects whose properties are
// exactly the label names.
const SCRAPE = (backend: string) => `
import { getHeapSnapshot } from 'node:v8';
const S = await import(${JSON.stringify(DIST)});
const main = S.StatsRegistry.create({ backend: ${JSON.stringify(backend)}, capacityBytes: 64 << 20 });
const writer = S.StatsRegistry.attach(main.handle, { backend: ${JSON.stringify(backend)} });
const def = { name: 'tenant_requests_total', help: 'T.', labelNames: ['tenant', 'route'], maxSeries: ${N} };
main.counter(def);
const c = writer.counter(def);
for (let i = 0; i < ${N}; i++) c.inc({ route: '/r', tenant: 't' + i });
// The plain objects of the heap, and the sizes of those whose properties are the label
// names, as JSON text (nothing of one count is alive when the next snapshot is taken).
function plainObjects() {
  const chunks = [];
  const stream = getHeapSnapshot();
  for (let c; (c = stream.read()) !== null; ) chunks.push(c);
  const snap = JSON.parse(Buffer.concat(chunks).toString());
  const { node_fields: nf, edge_fields: ef, node_types, edge_types } = snap.snapshot.meta;
  const [type, name, size, edges] = ['type', 'name', 'self_size', 'edge_count'].map((x) => nf.indexOf(x));
  const [etype, ename] = ['type', 'name_or_index'].map((x) => ef.indexOf(x));
  let objects = 0;
  const sizes = [];
  for (let i = 0, e = 0; i < snap.nodes.length; i += nf.length) {
    const n = snap.nodes[i + edges];
    if (node_types[0][snap.nodes[i + type]] === 'object' && snap.strings[snap.nodes[i + name]] === 'Object') {
      objects++;
      const props = [];
      for (let k = e; k < e + n; k++) {
        if (edge_types[0][snap.edges[k * ef.length + etype]] === 'property') props.push(snap.strings[snap.edges[k * ef.length + ename]]);
      }
      if (props.filter((p) => p !== '__proto__').sort().join() === 'route,tenant') sizes.push(snap.nodes[i + size]);
    }
    e += n;
  }
  return JSON.stringify({ objects, sizes });
}
plainObjects(); // the snapshot machinery's own objects, made once, before the count
const before = plainObjects();
if (main.collect().find((f) => f.name === def.name).samples.length !== ${N}) throw new Error('samples');
const after = JSON.parse(plainObjects());
console.log(JSON.stringify({ perSeries: (after.objects - JSON.parse(before).objects) / ${N}, count: after.sizes.length, max: Math.max(...after.sizes) }));
`;

describe.each(BACKENDS)('heap per cached labelled series (%s backend)', (backend) => {
  it('a cached child costs its thread no plain object, no array and no Map beside the child', () => {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT(backend)], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 60_000, killSignal: 'SIGKILL' });
    expect(p.status, `${p.error?.message ?? ''}\n${p.stderr}`).toBe(0);
    const perSeries = JSON.parse(p.stdout) as Record<string, { count: number; bytes: number }>;
    const shown = JSON.stringify(perSeries);
    // Counts per series: 1 would be one per child. A few objects of the run itself are allowed.
    expect(perSeries.Object?.count ?? 0, shown).toBeLessThan(0.01);
    expect(perSeries.Array?.count ?? 0, shown).toBeLessThan(0.01);
    expect(perSeries.Map?.count ?? 0, shown).toBeLessThan(0.01);
    // The child itself is there: the census sees the series it should.
    expect(Object.values(perSeries).some((e) => e.count >= 1), shown).toBe(true);
  });

  it('a scraping thread keeps one object per series, its labels, no bigger than its properties need', () => {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', SCRAPE(backend)], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 60_000, killSignal: 'SIGKILL' });
    expect(p.status, `${p.error?.message ?? ''}\n${p.stderr}`).toBe(0);
    const { perSeries, count, max } = JSON.parse(p.stdout) as { perSeries: number; count: number; max: number };
    expect(count).toBeGreaterThanOrEqual(N);
    // The labels object, and no record beside it (a { gen, labels } record per series once).
    expect(perSeries).toBeLessThan(1.05);
    // A header of three pointers and one a label (less where V8 compresses pointers); an
    // object made as {} and filled takes 56 bytes for up to four labels.
    expect(max).toBeLessThanOrEqual(8 * (3 + 2));
  });
});
