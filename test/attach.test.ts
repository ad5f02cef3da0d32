import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BroadcastReceiver, InProcessEventBus, InvalidHandleError, StatsRegistry, type RegistryHandle } from '../src/index.js';
import { testEvent } from './helpers/bus.js';
import { expectRejectedKeeping, registryState } from './helpers/metrics.js';
import {
  BLOCK,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_MAGIC,
  H_NEXT_SLOT,
  H_SLOT_COUNT,
  H_SLOT_TABLE,
  SLOT_ENTRY_BYTES,
  H_RECORDS_START,
  H_STRIPES,
  LAYOUT_VERSION,
  MAGIC,
  PAGE_BYTES,
} from '../src/layout.js';
import { bytesOf, recordsStart } from './helpers/memory.js';
import { forge, op } from './helpers/wasm-forge.js';

const SECTION = 'atomic-stats.build';

/** A registry with one counted entry, and its handle. */
function made(capacityBytes = 1 << 20) {
  const r = StatsRegistry.create({ capacityBytes });
  r.counters('s', ['v']).counter('v').add(3);
  return { r, h: r.handle };
}

/** A copy of the handle's memory in a new Memory with these limits, patched. */
function copyOf(h: RegistryHandle, pages: { initial?: number; maximum?: number } = {}, patch: (i32: Int32Array) => void = () => {}): RegistryHandle {
  const n = h.memory.buffer.byteLength / PAGE_BYTES;
  const m = new WebAssembly.Memory({ initial: pages.initial ?? n, maximum: pages.maximum ?? n, shared: true });
  new Uint8Array(m.buffer).set(new Uint8Array(h.memory.buffer).subarray(0, Math.min(m.buffer.byteLength, h.memory.buffer.byteLength)));
  patch(new Int32Array(m.buffer));
  return { ...h, memory: m };
}

function refusal(h: unknown): InvalidHandleError {
  let caught: unknown;
  try {
    StatsRegistry.attach(h as RegistryHandle);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidHandleError);
  expect((caught as InvalidHandleError).code).toBe('ERR_INVALID_HANDLE');
  return caught as InvalidHandleError;
}

describe('attach checks the memory before reading it', () => {
  it('accepts a copy with a fixed size (maximum == initial)', () => {
    const { h } = made();
    expect(StatsRegistry.attach(copyOf(h)).counters('s', ['v']).counter('v').value()).toBe(3);
  });

  it.each([
    ['one page more', 1],
    ['the largest maximum', 65536 - 16],
  ])('refuses a memory that can grow (maximum: %s)', (_, extra) => {
    const { h } = made();
    const err = refusal(copyOf(h, { maximum: 16 + extra }));
    expect(err.message).toContain('can grow');
  });

  it.each([
    ['capacity that disagrees with the size', (i32: Int32Array) => (i32[H_CAPACITY] = 2 << 20), /header says/],
    ['a stripe count of 0', (i32: Int32Array) => (i32[H_STRIPES] = 0), /stripe count/],
    ['a stripe count of 3', (i32: Int32Array) => (i32[H_STRIPES] = 3), /stripe count/],
    ['a stripe count of 1024', (i32: Int32Array) => (i32[H_STRIPES] = 1024), /stripe count/],
    ['a directory offset inside the records', (i32: Int32Array) => (i32[H_DIR_OFFSET] = 1 << 19), /directory offset/],
    ['a directory size of 0x7fffffff', (i32: Int32Array) => (i32[H_DIR_SLOTS] = 0x7fffffff), /directory size/],
    ['a directory size of 0', (i32: Int32Array) => (i32[H_DIR_SLOTS] = 0), /directory size/],
    ['a directory size too small for the capacity', (i32: Int32Array) => (i32[H_DIR_SLOTS] = 64), /directory size/],
    ['records starting inside the directory', (i32: Int32Array) => (i32[H_RECORDS_START] = 128), /record area/],
    ['records starting off a block', (i32: Int32Array) => (i32[H_RECORDS_START] = recordsStart(1 << 20, i32[H_STRIPES]!) + 4), /record area/],
    ['records starting beyond the memory', (i32: Int32Array) => (i32[H_RECORDS_START] = (1 << 20) + BLOCK), /record area/],
  ])('refuses a header with %s', (_, patch, message) => {
    const { h } = made();
    const err = refusal(copyOf(h, {}, patch));
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^not an atomic-stats registry handle: /);
  });

  it('refuses a memory smaller than a registry (a real Memory of 0 pages)', () => {
    const memory = new WebAssembly.Memory({ initial: 0, maximum: 0, shared: true });
    expect(refusal({ ...made().h, memory }).message).toContain("not a registry's size");
  });

  it('refuses an object that passes for a Memory (its prototype, any buffer) before reading it', () => {
    // A buffer of 1.5 pages, which no real Memory has: the brand check refuses it first.
    const fake = Object.create(WebAssembly.Memory.prototype, { buffer: { value: new SharedArrayBuffer(1.5 * PAGE_BYTES) } });
    expect(refusal({ ...made().h, memory: fake }).message).toContain('not a WebAssembly.Memory');
  });

  it('accepts the layout version it writes and no other', () => {
    const { h } = made();
    expect(h.layoutVersion).toBe(LAYOUT_VERSION);
    expect(refusal({ ...h, layoutVersion: LAYOUT_VERSION - 1 }).message).toContain('layout version');
  });
});

describe("attach never runs a handle's module", () => {
  const core = () => StatsRegistry.create({ capacityBytes: 65536 }).handle.module as WebAssembly.Module;
  const identity = () => new Uint8Array(WebAssembly.Module.customSections(core(), SECTION)[0]!);

  it('the shipped core carries its build identity: the SHA-256 of the compiled bytes', () => {
    const compiled = readFileSync(new URL('../build/atomic-stats.wasm', import.meta.url));
    const sections = WebAssembly.Module.customSections(core(), SECTION);
    expect(sections).toHaveLength(1);
    expect(Buffer.from(sections[0]!).toString('hex')).toBe(createHash('sha256').update(compiled).digest('hex'));
  });

  it("the core's abiVersion() is the ABI version this build expects", async () => {
    const { CORE_ABI_VERSION, coreModule, instantiateCore } = await import('../src/wasm-module.js');
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(instantiateCore(coreModule(), memory).abiVersion()).toBe(CORE_ABI_VERSION);
  });

  it('accepts its own module, a structured clone of it, and a handle without one', () => {
    const { r, h } = made();
    expect(StatsRegistry.attach(structuredClone(h)).counters('s', ['v']).counter('v').value()).toBe(3);
    expect(StatsRegistry.attach({ ...h, module: undefined } as never).counters('s', ['v']).counter('v').value()).toBe(3);
    expect(StatsRegistry.attach(h, { backend: 'js' }).handle.module).toBe(r.handle.module);
  });

  // Each forgery is checked on a registry whose memory is compared byte for byte after.
  const forgeries: [string, () => WebAssembly.Module, RegExp][] = [
    ['an empty module', () => forge({ memory: null }), /build identity/],
    ['abiVersion() = 4 without the identity', () => forge({ functions: [['abiVersion', op.i32(4)]] }), /build identity/],
    [
      'a start function that writes the header, without the identity',
      () => forge({ functions: [['abiVersion', op.i32(4)]], start: { body: [...op.i32(0), ...op.i32(0), ...op.store] } }),
      /build identity/,
    ],
    [
      'a start function that writes the header, with a copied identity',
      () => forge({ functions: [['abiVersion', op.i32(4)]], start: { body: [...op.i32(0), ...op.i32(0), ...op.store] }, custom: [[SECTION, identity()]] }),
      /exports/,
    ],
    [
      'an abiVersion() that loops forever, with a copied identity',
      () => forge({ functions: [['abiVersion', [...op.loopForever, ...op.i32(4)]]], custom: [[SECTION, identity()]] }),
      /exports/,
    ],
    [
      'the wrong imports (an extra function), with a copied identity',
      () => forge({ importFunctions: [['env', 'abort']], functions: [['abiVersion', op.i32(4)]], custom: [[SECTION, identity()]] }),
      /imports/,
    ],
    [
      'an unshared memory import, with a copied identity',
      () => forge({ memory: { min: 1, max: 65536, shared: false }, functions: [['abiVersion', op.i32(4)]], custom: [[SECTION, identity()]] }),
      /exports/,
    ],
    ['two identity sections', () => forge({ functions: [['abiVersion', op.i32(4)]], custom: [[SECTION, identity()], [SECTION, identity()]] }), /build identity/],
    ['another build identity', () => forge({ functions: [['abiVersion', op.i32(4)]], custom: [[SECTION, new Uint8Array(32)]] }), /build identity/],
  ];

  it.each(forgeries)('refuses %s, and none of its code runs', (_, make, message) => {
    const { r, h } = made();
    const before = bytesOf(r);
    const err = refusal({ ...h, module: make() });
    expect(err.message).toMatch(message);
    expect(Buffer.compare(bytesOf(r), before)).toBe(0);
    expect(StatsRegistry.attach(h).counters('s', ['v']).counter('v').value()).toBe(3);
  });

  it('a perfect copy of the description (identity, imports, exports) with a start function is never run', () => {
    const { r, h } = made();
    const exports = WebAssembly.Module.exports(core());
    expect(exports.every((e) => e.kind === 'function' || e.kind === 'memory')).toBe(true);
    const writeHeader = { body: [...op.i32(0), ...op.i32(0), ...op.store] };
    const twin = forge({
      functions: exports.map((e) => [e.name, e.kind === 'memory' ? null : op.i32(4)] as [string, number[] | null]),
      start: writeHeader,
      custom: [[SECTION, identity()]],
    });
    expect(JSON.stringify(WebAssembly.Module.imports(twin))).toBe(JSON.stringify(WebAssembly.Module.imports(core())));
    expect(JSON.stringify(WebAssembly.Module.exports(twin))).toBe(JSON.stringify(exports));
    // The forgery would zero the magic if it were instantiated on the memory.
    const probe = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    new Int32Array(probe.buffer)[0] = 99;
    new WebAssembly.Instance(twin, { env: { memory: probe } });
    expect(new Int32Array(probe.buffer)[0]).toBe(0);

    // Every byte as it was, but the attachment counter and the stripe-slot table, which
    // attaching moves (it claims a stripe).
    const withoutSlotCounter = () => {
      const b = bytesOf(r);
      b.fill(0, H_NEXT_SLOT * 4, H_NEXT_SLOT * 4 + 4);
      const i32 = new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
      const table = i32[H_SLOT_TABLE]!;
      b.fill(0, table, table + (i32[H_SLOT_COUNT]! + 1) * SLOT_ENTRY_BYTES);
      return b;
    };
    const before = withoutSlotCounter();
    const a = StatsRegistry.attach({ ...h, module: twin });
    expect(Buffer.compare(withoutSlotCounter(), before)).toBe(0);
    expect(new Int32Array(h.memory.buffer)[H_MAGIC]).toBe(MAGIC);
    // Its counters run on this build's own core: exact counts, and the handle it passes
    // on carries that core, not the forgery.
    const c = a.counters('s', ['v']).counter('v');
    for (let i = 0; i < 100; i++) c.inc();
    expect(c.value()).toBe(103);
    expect(a.handle.module).not.toBe(twin);
    expect(a.handle.module).toBe(r.handle.module);
  });

  it.each([
    ['a plain object', () => ({})],
    ['an object that only inherits from WebAssembly.Module', () => Object.create(WebAssembly.Module.prototype)],
    ['a Memory', () => new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })],
  ])('refuses %s as the module', (_, make) => {
    expect(refusal({ ...made().h, module: make() }).message).toContain('not a WebAssembly.Module');
  });
});

describe('InvalidHandleError names the kind of handle it expected', () => {
  it('registry handles', () => {
    const err = refusal({ type: 'atomic-stats/broadcast-receiver' });
    expect(err.message).toMatch(/^not an atomic-stats registry handle: /);
    expect(err.expected).toBe('registry');
  });

  it('broadcast receiver handles', () => {
    const err = receiverRefusal(made().h);
    expect(err.message).toMatch(/^not an atomic-stats broadcast receiver handle: /);
    expect(err.expected).toBe('broadcast receiver');
  });
});

function receiverRefusal(h: unknown): InvalidHandleError {
  let caught: unknown;
  try {
    BroadcastReceiver.fromHandle(h as never);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidHandleError);
  expect((caught as InvalidHandleError).expected).toBe('broadcast receiver');
  return caught as InvalidHandleError;
}

/** `value` with each of `fields` behind a getter that counts its reads; `memory` may answer per read. */
function counting<T extends object>(value: T, answers: Partial<Record<keyof T, (read: number) => unknown>> = {}) {
  const reads: Record<string, number> = {};
  const out = {};
  for (const key of Object.keys(value)) {
    reads[key] = 0;
    Object.defineProperty(out, key, {
      enumerable: true,
      get() {
        const n = ++reads[key]!;
        const answer = answers[key as keyof T];
        return answer === undefined ? value[key as keyof T] : answer(n);
      },
    });
  }
  return { handle: out as T, reads };
}

describe('attach reads each field of the handle once and brand-checks the memory', () => {
  it('a Proxy of the real Memory is an InvalidHandleError, not a TypeError, and changes nothing', () => {
    const { r, h } = made();
    const proxies = [
      new Proxy(h.memory, {}),
      // Answers `buffer` with the real one: instanceof and the buffer pass, only the brand check can tell.
      new Proxy(h.memory, { get: (t, k) => Reflect.get(t, k, t) as unknown }),
    ];
    for (const memory of proxies) {
      const err = expectRejectedKeeping(() => registryState(r), () => StatsRegistry.attach({ ...h, memory }), InvalidHandleError);
      expect(err.message).toMatch(/memory is not a WebAssembly\.Memory \(a Proxy of one/);
    }
    // An unshared Memory and a non-object memory say so.
    expect(refusal({ ...h, memory: new WebAssembly.Memory({ initial: 16, maximum: 16 }) }).message).toContain('not shared');
    expect(refusal({ ...h, memory: undefined }).message).toContain('memory is missing');
  });

  it('reads type, layoutVersion, memory and module once each: the memory checked is the memory attached', () => {
    const { h } = made();
    const zeroed = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
    // The real memory first, a zeroed one on any later read.
    const a = counting(h, { memory: (n) => (n === 1 ? h.memory : zeroed) });
    const attached = StatsRegistry.attach(a.handle);
    expect(a.reads).toEqual({ type: 1, layoutVersion: 1, memory: 1, module: 1 });
    expect(attached.counters('s', ['v']).counter('v').value()).toBe(3);
    // A zeroed memory first, the real one after: refused on what was read, still once.
    const b = counting(h, { memory: (n) => (n === 1 ? zeroed : h.memory) });
    expect(refusal(b.handle).message).toContain('magic');
    expect(b.reads.memory).toBe(1);
  });

  it('a getter that throws, or a revoked Proxy as the handle, is an InvalidHandleError and changes nothing', () => {
    const { r, h } = made();
    const throwing = counting(h, {
      memory: () => {
        throw new Error('getter');
      },
    }).handle;
    const { proxy, revoke } = Proxy.revocable(h, {});
    revoke();
    for (const bad of [throwing, proxy]) {
      const err = expectRejectedKeeping(() => registryState(r), () => StatsRegistry.attach(bad), InvalidHandleError);
      expect(err.message).toMatch(/reading its fields threw/);
    }
  });
});

describe('a wrong value passed to attach or fromHandle says what was expected and the likely mistake', () => {
  it.each([
    ['the registry itself', (r: StatsRegistry) => r, /got the registry object itself: pass registry\.handle, not the registry/],
    ['{ handle }', (r: StatsRegistry) => ({ handle: r.handle }), /holding a registry handle in its "handle" property: pass the handle itself \(value\.handle\)/],
    ['workerData holding it', (r: StatsRegistry) => ({ id: 3, registryHandle: r.handle }), /in its "registryHandle" property: pass the handle itself \(value\.registryHandle\)/],
    ['an empty object', () => ({}), /its type tag is undefined, expected "atomic-stats\/registry": pass the object from registry\.handle/],
    ['a tag of another kind', () => ({ type: 'atomic-stats/other' }), /its type tag is "atomic-stats\/other", expected "atomic-stats\/registry"/],
    ['null', () => null, /expected the object from registry\.handle, got null/],
    ['a number', () => 5, /expected the object from registry\.handle, got 5/],
  ])('attach(%s)', (_, make, message) => {
    const { r } = made();
    const err = expectRejectedKeeping(() => registryState(r), () => StatsRegistry.attach(make(r) as never), InvalidHandleError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('wrong type tag undefined');
  });

  it('attach(a broadcast receiver handle) points to BroadcastReceiver.fromHandle', () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'b' });
    const handle = bus.subscribeBroadcast().transfer();
    expect(refusal(handle).message).toMatch(/got a broadcast receiver handle: pass it to BroadcastReceiver\.fromHandle/);
    handle.port.close();
  });

  it('fromHandle: a registry handle, the receiver itself, an object holding the handle, a missing field', () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'b' });
    const rx = bus.subscribeBroadcast();
    expect(receiverRefusal(made().h).message).toMatch(/got a registry handle: pass it to StatsRegistry\.attach/);
    expect(receiverRefusal(rx).message).toMatch(/got a BroadcastReceiver itself: pass the object receiver\.transfer\(\) returns/);
    const handle = rx.transfer();
    expect(receiverRefusal({ handle }).message).toMatch(/in its "handle" property: pass the handle itself \(value\.handle\)/);
    expect(receiverRefusal({ type: 'x' }).message).toMatch(/its type tag is "x", expected "atomic-stats\/broadcast-receiver"/);
    expect(receiverRefusal(undefined).message).toMatch(/expected the object from receiver\.transfer\(\), got undefined/);
    expect(receiverRefusal({ ...handle, buffered: [[0]] }).message).toMatch(/buffered batch 0/);
    expect(receiverRefusal({ ...handle, control: new SharedArrayBuffer(8) }).message).toMatch(/has 8 bytes, expected 16/);
    handle.port.close();
  });

  it('fromHandle reads each field once, brand-checks the control buffer and the port, and a refusal leaves the handle usable', async () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'b' });
    const handle = bus.subscribeBroadcast().transfer();
    expect(receiverRefusal({ ...handle, control: new Proxy(handle.control, {}) }).message).toMatch(/control buffer is not a SharedArrayBuffer/);
    expect(receiverRefusal({ ...handle, port: new Proxy(handle.port, {}) }).message).toMatch(/port is not a MessagePort/);
    const throwing = counting(handle, {
      buffered: () => {
        throw new Error('getter');
      },
    }).handle;
    expect(receiverRefusal(throwing).message).toMatch(/reading its fields threw \(Error: getter\)/);
    // Each field once; a control getter that answers a wrong buffer after the first read changes nothing.
    const c = counting(handle, { control: (n) => (n === 1 ? handle.control : new SharedArrayBuffer(16)) });
    const rx = BroadcastReceiver.fromHandle(c.handle);
    expect(c.reads).toEqual({ type: 1, port: 1, control: 1, buffered: 1 });
    bus.publish(testEvent('after'));
    const got = await rx.next();
    expect(got.value?.event_name).toBe('after');
    expect(bus.getStatistics()).toMatchObject({ ffi_channel_dispatches: 1, ffi_channel_lagged: 0 });
    rx.close();
  });
});
