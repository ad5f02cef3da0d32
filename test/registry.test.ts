import { expectRejectedKeeping } from './helpers/metrics.js';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { defaultStripes } from '../src/layout.js';
import {
  InvalidCountError,
  InvalidHandleError,
  InvalidOptionsError,
  NameConflictError,
  RegistryFullError,
  StatsRegistry,
  UnknownFieldError,
  UnsafeIntegerError,
  type RegistryHandle,
} from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const TWO32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Everything observable about a registry: every entry and every counter, exactly. */
function state(r: StatsRegistry): unknown {
  const sets = r.entries().map((e) => {
    const d = e.descriptor as { fields: string[]; striped: boolean };
    return [e.name, e.kind, r.counters(e.name, d.fields, { striped: d.striped }).snapshotBigInt()];
  });
  return { sets, usage: r.usage() };
}

function expectRejected(r: StatsRegistry, call: () => unknown, type: new (...a: never[]) => Error): Error {
  return expectRejectedKeeping(() => state(r), call, type);
}

describe('StatsRegistry.create options', () => {
  it('has documented defaults', () => {
    const r = StatsRegistry.create();
    expect(r.backend).toBe('auto');
    expect(r.capacityBytes).toBe(4 * 1024 * 1024);
    expect(r.stripes).toBe(defaultStripes(availableParallelism()));
    expect(r.slot).toBe(0);
    expect(r.entries()).toEqual([]);
  });

  it('sizes the default stripe count to the machine: piscina\'s default pool twice (its churn) plus the main thread, as a power of two', () => {
    expect([1, 2, 3, 4, 8, 16, 64, 200].map(defaultStripes)).toEqual([8, 8, 16, 16, 32, 64, 256, 256]);
    for (let cores = 1; cores <= 256; cores++) {
      const s = defaultStripes(cores);
      const wanted = 2 * Math.ceil(cores * 1.5) + 1;
      expect(s & (s - 1)).toBe(0);
      // The smallest power of two with room for it, or the most stripes a registry has.
      expect(s).toBe(Math.min(256, 2 ** Math.ceil(Math.log2(wanted))));
    }
  });

  it('rounds capacity up to whole 64 KiB pages and accepts stripes that are powers of two', () => {
    const r = StatsRegistry.create({ capacityBytes: 65536 + 1, stripes: 4, backend: 'js' });
    expect(r.capacityBytes).toBe(131072);
    expect(r.stripes).toBe(4);
    expect(r.backend).toBe('js');
  });

  it.each([
    [{ backend: 'rust' }, 'backend'],
    [{ capacityBytes: 1024 }, 'capacityBytes'],
    [{ capacityBytes: 2 ** 31 }, 'capacityBytes'],
    [{ capacityBytes: 100000.5 }, 'capacityBytes'],
    [{ capacityBytes: '1MB' }, 'capacityBytes'],
    [{ stripes: 3 }, 'stripes'],
    [{ stripes: 0 }, 'stripes'],
    [{ stripes: 512 }, 'stripes'],
    [{ stripes: 2.5 }, 'stripes'],
    [{ strips: 4 }, 'strips'],
    ['fast', 'options'],
  ])('rejects %j naming %s', (options, option) => {
    let caught: unknown;
    try {
      StatsRegistry.create(options as never);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    expect((caught as InvalidOptionsError).option).toBe(option);
    expect((caught as InvalidOptionsError).code).toBe('ERR_INVALID_OPTIONS');
  });
});

describe.each(BACKENDS)('counter sets (%s backend)', (backend) => {
  const make = (o: object = {}) => StatsRegistry.create({ backend, ...o });

  it('gets or creates by name: same object in one attachment, same cells across attachments', () => {
    const r = make();
    const a = r.counters('requests', ['ok', 'failed']);
    expect(r.counters('requests', ['ok', 'failed'])).toBe(a);
    a.counter('ok').inc();
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const b = other.counters('requests', ['ok', 'failed']);
    b.counter('ok').add(4);
    b.counter('failed').inc();
    expect(a.snapshot()).toEqual({ ok: 5, failed: 1 });
    expect(b.snapshotBigInt()).toEqual({ ok: 5n, failed: 1n });
    expect(r.entries()).toEqual([{ name: 'requests', kind: 'counters', descriptor: { fields: ['ok', 'failed'], striped: false } }]);
  });

  it.each([false, true])('inc, add, addBigInt and reads agree (striped: %s)', (striped) => {
    const r = make();
    const set = r.counters('s', ['a', 'b', 'c'], { striped });
    const a = set.counter('a');
    a.inc();
    a.add(0);
    a.add(41);
    set.counter('b').add(TWO32 + 7); // needs the high word
    set.counter('c').addBigInt(123n);
    expect(a.value()).toBe(42);
    expect(a.valueBigInt()).toBe(42n);
    expect(set.snapshot()).toEqual({ a: 42, b: TWO32 + 7, c: 123 });
    expect(set.fields).toEqual(['a', 'b', 'c']);
    expect(set.striped).toBe(striped);
    expect(set.name).toBe('s');
  });

  it.each([false, true])('carries across word boundaries (striped: %s)', (striped) => {
    const r = make();
    const c = r.counters('carry', ['v'], { striped }).counter('v');
    // An owned cell carries from its 24-bit low part into its high word at 2^24.
    c.add(2 ** 24 - 1);
    c.inc();
    expect(c.value()).toBe(2 ** 24);
    // The largest owned add (just under 2^30) carries 64 at once; 2^30 and up go to the
    // shared stripe. Both must read back exactly.
    c.add(2 ** 30 - 1);
    c.add(2 ** 30);
    c.add(TWO32 - 1);
    c.inc();
    expect(c.value()).toBe(2 ** 24 + 2 ** 30 - 1 + 2 ** 30 + TWO32);
    for (let i = 0; i < 300; i++) c.add(2 ** 29 + 12345); // 300 carries: the 8-bit tag wraps
    expect(c.valueBigInt()).toBe(BigInt(2 ** 24 + 2 ** 30 - 1 + 2 ** 30 + TWO32) + 300n * BigInt(2 ** 29 + 12345));
  });

  it.each([false, true])('beyond 2^53: number reads throw UnsafeIntegerError, BigInt reads are exact (striped: %s)', (striped) => {
    const r = make();
    const set = r.counters('big', ['v', 'w'], { striped });
    const v = set.counter('v');
    v.add(MAX_SAFE);
    expect(v.value()).toBe(MAX_SAFE);
    v.inc();
    expect(() => v.value()).toThrow(UnsafeIntegerError);
    expect(() => set.snapshot()).toThrow(UnsafeIntegerError);
    expect(v.valueBigInt()).toBe(2n ** 53n);
    expect(set.snapshotBigInt()).toEqual({ v: 2n ** 53n, w: 0n });
    // The number API is still usable for the other field.
    expect(set.counter('w').value()).toBe(0);
  });

  it.each([false, true])('wraps around at 2^64 like fetch_add on a u64 (striped: %s)', (striped) => {
    const r = make();
    const c = r.counters('wrap', ['v'], { striped }).counter('v');
    c.addBigInt(2n ** 64n - 2n);
    c.inc();
    expect(c.valueBigInt()).toBe(2n ** 64n - 1n);
    c.add(3);
    expect(c.valueBigInt()).toBe(2n);
    expect(c.value()).toBe(2);
  });

  it('sums the stripes of every attachment, including ones without a stripe of their own', () => {
    const r = make({ stripes: 2 });
    const attachments = [r, ...Array.from({ length: 4 }, () => StatsRegistry.attach(r.handle, { backend }))];
    expect(attachments.map((a) => a.slot)).toEqual([0, 1, 2, 3, 4]);
    attachments.forEach((a, i) => a.counters('s', ['n'], { striped: true }).counter('n').add(10 ** i));
    expect(r.counters('s', ['n'], { striped: true }).counter('n').value()).toBe(11111);
  });

  it.each([
    [-1, 'negative'],
    [1.5, 'not an integer'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'not finite'],
    [Number.NEGATIVE_INFINITY, 'not finite'],
    ['1', 'not a number'],
    [null, 'not a number'],
    [undefined, 'not a number'],
    [{}, 'not a number'],
    [1n, 'not a number'],
    [MAX_SAFE + 1, 'MAX_SAFE_INTEGER'],
  ])('add(%s) throws InvalidCountError (%s) and changes nothing', (bad, reason) => {
    for (const striped of [false, true]) {
      const r = make();
      const c = r.counters('s', ['v'], { striped }).counter('v');
      c.add(5);
      const err = expectRejected(r, () => c.add(bad as number), InvalidCountError);
      expect(err.message).toContain(reason);
      expect((err as InvalidCountError).code).toBe('ERR_INVALID_COUNT');
    }
  });

  it.each([[-1n], [2n ** 64n], [5]])('addBigInt(%s) throws InvalidCountError and changes nothing', (bad) => {
    const r = make();
    const c = r.counters('s', ['v']).counter('v');
    c.inc();
    expectRejected(r, () => c.addBigInt(bad as bigint), InvalidCountError);
  });

  it('throws UnknownFieldError for a field not in the set', () => {
    const r = make();
    const set = r.counters('s', ['a']);
    set.counter('a').inc();
    const err = expectRejected(r, () => set.counter('b' as 'a'), UnknownFieldError);
    expect(err.message).toContain('"b"');
  });

  it('rejects another field list, another striping, or another kind under a used name', () => {
    const r = make();
    r.counters('s', ['a', 'b']).counter('a').inc();
    expectRejected(r, () => r.counters('s', ['a']), NameConflictError);
    expectRejected(r, () => r.counters('s', ['b', 'a']), NameConflictError);
    expectRejected(r, () => r.counters('s', ['a', 'b'], { striped: true }), NameConflictError);
    // The same checks hold against the shared directory, not just this thread's cache.
    const other = StatsRegistry.attach(r.handle, { backend });
    expectRejected(other, () => other.counters('s', ['a', 'b', 'c']), NameConflictError);
    expectRejected(other, () => other.counters('s', ['a', 'b'], { striped: true }), NameConflictError);
    expect(other.counters('s', ['a', 'b']).snapshot()).toEqual({ a: 1, b: 0 });
  });

  it.each([
    [['a', 'a'], 'fields'],
    [[], 'fields'],
    ['a', 'fields'],
    [['1a'], 'fields'],
    [['a-b'], 'fields'],
    [[''], 'fields'],
    [[7], 'fields'],
    [Array.from({ length: 65 }, (_, i) => `f${i}`), 'fields'],
  ])('rejects fields %j', (fields, option) => {
    const r = make();
    r.counters('existing', ['x']).counter('x').inc();
    const err = expectRejected(r, () => r.counters('s', fields as string[]), InvalidOptionsError);
    expect((err as InvalidOptionsError).option).toBe(option);
  });

  it.each([[''], [7], ['x'.repeat(257)]])('rejects the name %j', (name) => {
    const r = make();
    r.counters('existing', ['x']).counter('x').inc();
    const err = expectRejected(r, () => r.counters(name as string, ['a']), InvalidOptionsError);
    expect((err as InvalidOptionsError).option).toBe('name');
  });

  it('rejects bad counter-set options', () => {
    const r = make();
    expectRejected(r, () => r.counters('s', ['a'], { striped: 'yes' } as never), InvalidOptionsError);
    expectRejected(r, () => r.counters('s', ['a'], { stripe: true } as never), InvalidOptionsError);
  });

  it('accepts any UTF-8 name and tells names apart by bytes, not hash', () => {
    const r = make();
    const names = ['日本語', 'naïve', 'a', 'b', 'ab', 'ba', '🙂'];
    names.forEach((n, i) => r.counters(n, ['v']).counter('v').add(i + 1));
    const other = StatsRegistry.attach(r.handle, { backend });
    expect(names.map((n) => other.counters(n, ['v']).counter('v').value())).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('throws RegistryFullError when memory runs out, changing nothing', () => {
    const r = make({ capacityBytes: 65536, stripes: 16 });
    let created = 0;
    let caught: unknown;
    for (;;) {
      const before = state(r);
      try {
        r.counters(`set${created}`, ['a', 'b', 'c'], { striped: true }).counter('a').inc();
        created++;
      } catch (e) {
        caught = e;
        expect(state(r)).toEqual(before);
        break;
      }
    }
    expect(caught).toBeInstanceOf(RegistryFullError);
    expect(created).toBeGreaterThan(0);
    // Everything created before is intact, and a small set may still fit.
    for (let i = 0; i < created; i++) expect(r.counters(`set${i}`, ['a', 'b', 'c'], { striped: true }).counter('a').value()).toBe(1);
  });

  it('throws RegistryFullError when the directory is full, changing nothing', () => {
    const r = make({ capacityBytes: 65536 });
    let i = 0;
    for (; i < 64; i++) r.counters(`n${i}`, ['v']).counter('v').inc();
    expectRejected(r, () => r.counters('one-too-many', ['v']), RegistryFullError);
    expect(r.usage().entries).toBe(64);
  });

  it('reports usage', () => {
    const r = make();
    const u0 = r.usage();
    r.counters('s', ['a'], { striped: true });
    const u1 = r.usage();
    expect(u1.entries).toBe(u0.entries + 1);
    // head block + shared block + one owned stripe per registry stripe, 128 bytes each
    expect(u1.usedBytes - u0.usedBytes).toBe(128 * (1 + 1 + r.stripes));
    expect(u1.capacityBytes).toBe(r.capacityBytes);
  });
});

describe('StatsRegistry.attach', () => {
  it('gives every attachment a new slot and shares the layout', () => {
    const r = StatsRegistry.create({ stripes: 8 });
    const a = StatsRegistry.attach(r.handle);
    const b = StatsRegistry.attach(r.handle, { backend: 'js' });
    expect([r.slot, a.slot, b.slot]).toEqual([0, 1, 2]);
    expect(b.stripes).toBe(8);
    expect(b.capacityBytes).toBe(r.capacityBytes);
  });

  it('survives structured cloning of the handle', () => {
    const r = StatsRegistry.create();
    r.counters('s', ['v']).counter('v').add(3);
    const copy = structuredClone(r.handle) as RegistryHandle;
    expect(StatsRegistry.attach(copy).counters('s', ['v']).counter('v').value()).toBe(3);
  });

  const good = () => StatsRegistry.create().handle;
  const memoryWith = (patch: (i32: Int32Array) => void) => {
    const h = good();
    const m = new WebAssembly.Memory({ initial: h.memory.buffer.byteLength / 65536, maximum: h.memory.buffer.byteLength / 65536, shared: true });
    new Uint8Array(m.buffer).set(new Uint8Array(h.memory.buffer));
    patch(new Int32Array(m.buffer));
    return { ...h, memory: m };
  };
  it.each([
    ['null', () => null],
    ['a string', () => 'handle'],
    ['the wrong type tag', () => ({ ...good(), type: 'other' })],
    ['a non-shared memory', () => ({ ...good(), memory: new WebAssembly.Memory({ initial: 1 }) })],
    ['no memory', () => ({ ...good(), memory: undefined })],
    ['the wrong magic', () => memoryWith((i32) => (i32[0] = 0x12345678))],
    ['another layout version', () => memoryWith((i32) => (i32[1] = 99))],
    ['a handle claiming another layout version', () => ({ ...good(), layoutVersion: 1 })],
    ['the wrong size', () => memoryWith((i32) => (i32[2] = 65536))],
    ['a module that is not ours', () => ({ ...good(), module: new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])) })],
    ['a module that is not a module', () => ({ ...good(), module: {} })],
  ])('rejects %s with InvalidHandleError', (_, make) => {
    expect(() => StatsRegistry.attach(make() as RegistryHandle)).toThrow(InvalidHandleError);
  });

  it('rejects bad attach options', () => {
    const h = StatsRegistry.create().handle;
    expect(() => StatsRegistry.attach(h, { backend: 'c' as never })).toThrow(InvalidOptionsError);
    expect(() => StatsRegistry.attach(h, { stripes: 4 } as never)).toThrow(InvalidOptionsError);
  });
});

describe('layout constants spelled as literals on hot paths', () => {
  it('OWNED_ADD_LIMIT is the 0x40000000 the hot paths compare against', async () => {
    const { OWNED_ADD_LIMIT } = await import('../src/layout.js');
    expect(OWNED_ADD_LIMIT).toBe(0x40000000);
  });
});
