import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CardinalityLimitError, DEFAULT_MAX_SERIES, InvalidLabelsError, NameConflictError, StatsRegistry } from '../src/index.js';
import { LabelTree } from '../src/kinds/labels.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected, userFamilies } from './helpers/metrics.js';

const values = (r: StatsRegistry, name: string) =>
  new Map(userFamilies(r).get(name)!.samples.map((s) => [JSON.stringify(Object.entries(s.labels).sort()), s.value]));
const k = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());

describe.each(BACKENDS)('labelled series (%s backend)', (backend) => {
  it('one series per label set: key order, number values and positional labels all reach the same cells', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'req_total', help: 'R.', labelNames: ['method', 'code'] });
    c.inc({ method: 'GET', code: '200' });
    c.inc({ code: '200', method: 'GET' });
    c.inc({ code: 200, method: 'GET' });
    c.labels('GET', 200).inc();
    c.labels('GET', '200').inc();
    expect(c.labels({ method: 'GET', code: '200' })).toBe(c.labels('GET', '200')); // cached per thread
    expect(values(r, 'req_total')).toEqual(new Map([[k({ code: '200', method: 'GET' }), 5n]]));
    expect(c.seriesCount()).toBe(1);
    // Series live in the family's own table, not in directory entries.
    expect(r.entries().map((e) => e.name)).toEqual(['req_total']);
  });

  it('values that look like separators or quotes stay distinct series (the key is injective)', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'odd_total', help: 'O.', labelNames: ['a', 'b'] });
    const sets = [
      { a: 'x', b: 'y' },
      { a: 'x,b=', b: 'y' },
      { a: 'x", b="y', b: '' },
      { a: 'x\\', b: '"y' },
      { a: 'x\n', b: 'y' },
      { a: '', b: '' },
      { a: 'ü', b: '{}' },
    ];
    sets.forEach((s, i) => c.inc(s, i + 1));
    const got = values(r, 'odd_total');
    expect(got.size).toBe(sets.length);
    sets.forEach((s, i) => expect(got.get(k(s))).toBe(BigInt(i + 1)));
  });

  it('label names that are Object.prototype members work exactly', () => {
    const r = StatsRegistry.create({ backend });
    const g = r.gauge({ name: 'protoish', help: 'P.', labelNames: ['constructor', 'toString', 'hasOwnProperty'] });
    g.set({ constructor: 'a', toString: 'b', hasOwnProperty: 'c' }, 2);
    g.labels('a', 'b', 'c').inc();
    expect(values(r, 'protoish')).toEqual(new Map([[k({ constructor: 'a', toString: 'b', hasOwnProperty: 'c' }), 3]]));
    // Missing own keys are missing even though the prototype has members of that name.
    expectRejected(r, () => g.set({ toString: 'b', hasOwnProperty: 'c' } as never, 1), InvalidLabelsError);
  });

  it('missing, extra, wrongly typed labels and wrong arity are InvalidLabelsError, changing nothing', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'l_total', help: 'L.', labelNames: ['a', 'b'] });
    c.inc({ a: 'x', b: 'y' });
    for (const bad of [{ a: 'x' }, { a: 'x', b: 'y', c: 'z' }, { a: 'x', b: null }, { a: 'x', b: true }, { a: 'x', b: {} }, { a: 'x', b: undefined }, [], 'x']) {
      expectRejected(r, () => c.inc(bad as never), InvalidLabelsError);
      expectRejected(r, () => c.labels(bad as never), InvalidLabelsError);
    }
    expectRejected(r, () => c.inc(), InvalidLabelsError);
    expectRejected(r, () => c.labels('x'), InvalidLabelsError);
    expectRejected(r, () => c.labels('x', 'y', 'z'), InvalidLabelsError);
    expectRejected(r, () => c.inc({ a: 'x'.repeat(300), b: 'y' }), InvalidLabelsError);
    const u = r.counter({ name: 'u_total', help: 'U.' });
    expectRejected(r, () => u.inc({ a: 'x' }), InvalidLabelsError);
    expectRejected(r, () => u.labels('x'), InvalidLabelsError);
    u.inc({});
    expect(values(r, 'u_total')).toEqual(new Map([['[]', 1n]]));
  });

  it(`maxSeries (default ${DEFAULT_MAX_SERIES}) bounds the series of every thread together; nothing is created past it`, () => {
    const r = StatsRegistry.create({ backend });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const def = { name: 'capped_seconds', help: 'C.', labelNames: ['user'], maxSeries: 3, buckets: [1] };
    const h = r.histogram(def);
    const h2 = other.histogram(def);
    h.observe({ user: 'a' }, 1);
    h2.observe({ user: 'b' }, 1);
    h.observe({ user: 'c' }, 1);
    expect(h.seriesCount()).toBe(3);
    const e = expectRejected(r, () => h2.observe({ user: 'd' }, 1), CardinalityLimitError) as CardinalityLimitError;
    expect(e.code).toBe('ERR_CARDINALITY_LIMIT');
    expect(e.maxSeries).toBe(3);
    expectRejected(r, () => h.labels('e'), CardinalityLimitError);
    // Existing series stay reachable at the limit, from a thread that never used them.
    h2.observe({ user: 'a' }, 2);
    h2.observe({ user: 'c' }, 2);
    expect(h2.seriesCount()).toBe(3);
    expect(r.counter({ name: 'big_total', help: 'B.', labelNames: ['x'] }).maxSeries).toBe(DEFAULT_MAX_SERIES);
  });

  it('an entry of another kind named like a series is no conflict: series are not directory entries', () => {
    const r = StatsRegistry.create({ backend });
    r.counters('taken{a="x"}', ['n']).counter('n').add(7);
    const c = r.counter({ name: 'taken', help: 'T.', labelNames: ['a'], maxSeries: 1 });
    c.inc({ a: 'x' });
    expect(c.seriesCount()).toBe(1);
    expect(values(r, 'taken')).toEqual(new Map([[k({ a: 'x' }), 1n]]));
    expect(r.counters('taken{a="x"}', ['n']).snapshot()).toEqual({ n: 7 });
  });

  it('the registry running out of room refuses the series and gives its claim back', () => {
    const r = StatsRegistry.create({ backend, capacityBytes: 65536 });
    const c = r.counter({ name: 'fill_total', help: 'F.', labelNames: ['i'], maxSeries: 1000 });
    let made = 0;
    let error: unknown;
    try {
      for (;;) c.inc({ i: String(made++) });
    } catch (e) {
      error = e;
    }
    expect((error as Error).name).toBe('RegistryFullError');
    expect(c.seriesCount()).toBe(made - 1);
    expect(userFamilies(r).get('fill_total')!.samples.length).toBe(made - 1);
  });

  it("a series node whose key bytes were overwritten is skipped by readers; its labels get a series of their own again", async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'sig_total', help: 'S.', labelNames: ['k'] });
    c.inc({ k: 'a' }, 3);
    c.inc({ k: 'b' }, 4);
    // Damage one node's key in place, as a foreign or damaged writer might: the key's
    // length prefix (0x00 0x01 'a') now claims more bytes than the key holds.
    const u8 = new Uint8Array(r.handle.memory.buffer);
    const fam = r.checkedRecords().find((x) => x.name === 'sig_total')!;
    const at = Buffer.from(u8.slice(fam.dataOffset, u8.length)).indexOf(Buffer.from([0, 1, 0x61, 0]));
    expect(at).toBeGreaterThan(0);
    u8[fam.dataOffset + at + 1] = 9;
    const fresh = StatsRegistry.attach(r.handle, { backend });
    const def = { name: 'sig_total', help: 'S.', labelNames: ['k'] };
    expect(userFamilies(fresh).get('sig_total')!.samples).toEqual([{ labels: { k: 'b' }, value: 4n }]);
    expect((await fresh.counter(def).get()).values).toEqual([{ labels: { k: 'b' }, value: 4 }]);
    // The damaged node no longer matches its key: the labels make a new series.
    fresh.counter(def).inc({ k: 'a' });
    expect((await fresh.counter(def).get()).values).toEqual([
      { labels: { k: 'b' }, value: 4 },
      { labels: { k: 'a' }, value: 1 },
    ]);
  });

  it('get() sees series another attachment created after an earlier get(), and only its own family', async () => {
    const r = StatsRegistry.create({ backend });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const def = { name: 'late_total', help: 'L.', labelNames: ['k'] };
    const c = r.counter(def);
    r.counter({ name: 'late_total_x', help: 'X.', labelNames: ['k'] }).inc({ k: 'z' });
    r.gauge({ name: 'late', help: 'G.', labelNames: ['k'] }).set({ k: 'y' }, 1);
    expect((await c.get()).values).toEqual([]);
    other.counter(def).inc({ k: 'a' }, 2);
    expect((await c.get()).values).toEqual([{ labels: { k: 'a' }, value: 2 }]);
    other.counter(def).inc({ k: 'b' });
    r.counters('late_total{k="c"}', ['n']); // same prefix, another kind: not a series
    expect((await c.get()).values.map((v) => v.labels.k).sort()).toEqual(['a', 'b']);
  });
});

describe("a thread's label tree", () => {
  // How many Maps the tree holds, the root included (a tree of k label names has k levels of Maps).
  const maps = (tree: LabelTree<object>): number => {
    const { root, sorted } = tree as unknown as { root: Map<string, unknown>; sorted: readonly string[] };
    const count = (m: Map<string, unknown>, below: number): number =>
      1 + (below === 0 ? 0 : [...m.values()].reduce<number>((n, next) => n + count(next as Map<string, unknown>, below - 1), 0));
    return count(root, sorted.length - 1);
  };

  it('deleting a series drops the levels it leaves empty, and only those', () => {
    const tree = new LabelTree<object>(['job', 'tenant', 'zone']);
    const a = {};
    const b = {};
    tree.insert(['j', 't1', 'z'], a);
    tree.insert(['j', 't2', 'z'], b);
    expect(maps(tree)).toBe(4); // root, j, j/t1, j/t2
    tree.delete(['j', 't1', 'z']);
    expect(maps(tree)).toBe(3);
    expect(tree.findValues(['j', 't2', 'z'])).toBe(b);
    expect(tree.find({ job: 'j', tenant: 't2', zone: 'z' })).toBe(b);
    tree.delete(['j', 't2', 'z']);
    expect(maps(tree)).toBe(1);
    expect(tree.findValues(['j', 't2', 'z'])).toBeUndefined();
    // A tenant that comes and goes a thousand times leaves nothing behind.
    for (let i = 0; i < 1000; i++) {
      tree.insert(['j', `t${i}`, 'z'], a);
      tree.delete(['j', `t${i}`, 'z']);
    }
    expect(maps(tree)).toBe(1);
    tree.delete(['nope', 't', 'z']); // absent: nothing happens
    expect(maps(tree)).toBe(1);
  });

  it('a label with one value per series at the top level is moved down: a Map per value of the first level only', () => {
    // Sorted order puts `path` (one value per series) above `status` (two values).
    const tree = new LabelTree<{ i: number }>(['path', 'status']);
    const kids = Array.from({ length: 1000 }, (_, i) => ({ i }));
    const status = (i: number) => (i % 3 === 0 ? '500' : '200');
    for (const kid of kids) tree.insert([`/p${kid.i}`, status(kid.i)], kid);
    expect(maps(tree)).toBe(3); // root, 200, 500
    for (const kid of kids) {
      expect(tree.find({ path: `/p${kid.i}`, status: status(kid.i) })).toBe(kid);
      expect(tree.find({ status: status(kid.i), path: `/p${kid.i}` })).toBe(kid);
      expect(tree.findValues([`/p${kid.i}`, status(kid.i)])).toBe(kid);
    }
    expect(tree.find({ path: '/p1', status: '500' })).toBeUndefined();
    expect(tree.valuesOf(new Set([kids[3]!, kids[4]!]))).toEqual(new Map([[kids[3]!, ['/p3', '500']], [kids[4]!, ['/p4', '200']]]));
    for (const kid of kids) tree.delete([`/p${kid.i}`, status(kid.i)]);
    expect(maps(tree)).toBe(1);
    expect(tree.find({ path: '/p1', status: '200' })).toBeUndefined();
  });

  it('whatever the level order, the tree answers as a map from label values to series', () => {
    const names = ['a', 'b', 'c'];
    const value = fc.tuple(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }));
    // Mostly inserts, so that the tree often grows past the size at which it reorders its
    // levels (the first label has the most values), and deletes and finds along the way.
    const op = fc.tuple(fc.constantFrom('insert', 'insert', 'insert', 'delete', 'find'), value);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 400, size: 'max' }), (ops) => {
        const tree = new LabelTree<object>(names);
        const model = new Map<string, object>();
        for (const [what, [x, y, z]] of ops) {
          const values = [`x${x}`, `y${y}`, `z${z}`];
          const key = values.join('|');
          if (what === 'insert' && !model.has(key)) {
            const child = {};
            tree.insert(values, child);
            model.set(key, child);
          } else if (what === 'delete') {
            tree.delete(values);
            model.delete(key);
          }
          const found = model.get(key);
          if (tree.findValues(values) !== found) return false;
          if (tree.find({ c: values[2], a: values[0], b: values[1] }) !== found) return false;
        }
        const all = new Set(model.values());
        const got = tree.valuesOf(all);
        if (got.size !== model.size) return false;
        for (const [key, child] of model) if (got.get(child)?.join('|') !== key) return false;
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('valuesOf gives the label values of the series asked for, in sorted-name order', () => {
    const tree = new LabelTree<object>(['a', 'b']);
    const x = {};
    const y = {};
    const z = {};
    tree.insert(['1', '2'], x);
    tree.insert(['1', '3'], y);
    tree.insert(['4', '2'], z);
    expect(tree.valuesOf(new Set([x, z]))).toEqual(new Map([[x, ['1', '2']], [z, ['4', '2']]]));
    expect(tree.valuesOf(new Set([{}]))).toEqual(new Map());
    expect(tree.valuesOf(new Set())).toEqual(new Map());
  });
});
