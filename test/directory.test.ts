import { expectRejectedKeeping, firstDifference } from './helpers/metrics.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CorruptRegistryError,
  InvalidHandleError,
  InvalidOptionsError,
  NameConflictError,
  RegistryFullError,
  StatsRegistry,
} from '../src/index.js';
import {
  HEADER_BYTES,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_MAGIC,
  H_NEXT_SLOT,
  H_SLOT_TABLE,
  H_RECORDS_START,
  H_STRIPES,
  H_VERSION,
  RECORD_HEAD_BYTES,
  R_DATA,
  R_DATA_BYTES,
  R_KIND,
  R_NAME_LEN,
  R_SIG_LEN,
} from '../src/layout.js';
import * as promClient from 'prom-client';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';
import { bytesOf, counterRecordBytes, forgeSlot, i32Of, logOf, recordOf, recordsStart, slotScanNames, u8Of } from './helpers/memory.js';

// Every process warning atomic-stats emits about corrupt records, per test.
let warnings: string[];
beforeEach(() => {
  warnings = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error, o?: { code?: string }) => {
    if (o?.code === 'ERR_CORRUPT_REGISTRY') warnings.push(String(w));
  }) as typeof process.emitWarning);
});
afterEach(() => vi.restoreAllMocks());

describe('the byte comparison behind the rejected-and-unchanged checks', () => {
  it('finds the first differing byte, a length difference, or none', () => {
    const a = new Uint8Array(1 << 20);
    const b = a.slice();
    expect(firstDifference(a, b)).toBe(-1);
    b[123_457] = 1;
    expect(firstDifference(a, b)).toBe(123_457);
    expect(firstDifference(a, a.subarray(0, 1000))).toBe(1000);
    expect(() => expectRejectedKeeping(() => b.slice(), () => { b[9] = 2; throw new InvalidOptionsError('x', 'y'); }, InvalidOptionsError)).toThrow();
  });
});

/** Calls `call`, expects `type`, and checks that not one byte of the memory changed. */
function expectRefusedUnchanged(r: StatsRegistry, call: () => unknown, type: abstract new (...a: never[]) => Error): Error {
  return expectRejectedKeeping(() => bytesOf(r), call, type);
}

// Header words fixed at creation: no thread may ever change them.
const FIXED_WORDS = [H_MAGIC, H_VERSION, H_CAPACITY, H_STRIPES, H_DIR_OFFSET, H_DIR_SLOTS, H_RECORDS_START];
const fixedHeader = (r: StatsRegistry) => FIXED_WORDS.map((w) => i32Of(r)[w]);

/** A registry with two counter sets, 'good' and 'victim', with counts in both. */
function twoSets(capacityBytes = 1 << 20) {
  const r = StatsRegistry.create({ capacityBytes, stripes: 4 });
  r.counters('good', ['a', 'b']).counter('a').add(7);
  r.counters('victim', ['a', 'b']).counter('b').add(9);
  return { r, victim: recordOf(r, 'victim') };
}

type Patch = (i32: Int32Array, u8: Uint8Array, p: number) => void;
const w = (p: number, field: number) => (p + field) >>> 2;

// How a corruption shows when the entry is asked for by name afterwards: 'lost' when the
// record's head no longer says whose it is (a new entry is created in fresh memory),
// 'corrupt' when the name still matches (CorruptRegistryError).
const CORRUPTIONS: [string, Patch, 'lost' | 'corrupt'][] = [
  ['name length 0x7fffffff', (i32, _, p) => (i32[w(p, R_NAME_LEN)] = 0x7fffffff), 'lost'],
  ['name length 0', (i32, _, p) => (i32[w(p, R_NAME_LEN)] = 0), 'lost'],
  ['name length -1', (i32, _, p) => (i32[w(p, R_NAME_LEN)] = -1), 'lost'],
  ['signature length 0x7fffffff', (i32, _, p) => (i32[w(p, R_SIG_LEN)] = 0x7fffffff), 'lost'],
  ['data offset pointing into the header', (i32, _, p) => (i32[w(p, R_DATA)] = 0), 'lost'],
  ['data offset pointing at the next block', (i32, _, p) => (i32[w(p, R_DATA)] = i32[w(p, R_DATA)]! + 128), 'lost'],
  ['data bytes beyond the memory', (i32, _, p) => (i32[w(p, R_DATA_BYTES)] = 0x7fffff00), 'lost'],
  ['negative data bytes', (i32, _, p) => (i32[w(p, R_DATA_BYTES)] = -8), 'lost'],
  ['a name byte changed (hash mismatch)', (_, u8, p) => (u8[p + RECORD_HEAD_BYTES] = u8[p + RECORD_HEAD_BYTES]! ^ 1), 'lost'],
  ['data bytes too small for the fields', (i32, _, p) => (i32[w(p, R_DATA_BYTES)] = 8), 'corrupt'],
  ['the kind code of a breaker', (i32, _, p) => (i32[w(p, R_KIND)] = 5), 'corrupt'],
  ['garbage signature JSON', (i32, u8, p) => u8.fill(0x7b, p + RECORD_HEAD_BYTES + 6, p + RECORD_HEAD_BYTES + 6 + i32[w(p, R_SIG_LEN)]!), 'corrupt'],
  ['a signature that is not UTF-8', (_, u8, p) => (u8[p + RECORD_HEAD_BYTES + 8] = 0xff), 'corrupt'],
  ['an unknown kind in the signature', (_, u8, p) => (u8[p + RECORD_HEAD_BYTES + 6 + 9] = 0x5a), 'corrupt'],
  ['an invalid field name in the signature', (_, u8, p) => u8.set(Buffer.from('"1"'), p + RECORD_HEAD_BYTES + 6 + 29), 'corrupt'],
];

describe('corrupt records are skipped by every listing and reported once', () => {
  it('the patches above hit the bytes they mean to (signature layout)', () => {
    const { r, victim } = twoSets();
    const u8 = u8Of(r);
    const at = victim.offset + RECORD_HEAD_BYTES + 6; // after the name "victim"
    expect(Buffer.from(u8.slice(at, at + 40)).toString()).toBe('{"kind":"counters","fields":["a","b"],"s');
  });

  it.each(CORRUPTIONS)('%s', (_, patch, lookup) => {
    const { r, victim } = twoSets();
    const before = r.usage();
    patch(i32Of(r), u8Of(r), victim.offset);

    for (let round = 0; round < 2; round++) {
      expect(r.entries()).toEqual([{ name: 'good', kind: 'counters', descriptor: { fields: ['a', 'b'], striped: false } }]);
      const families = r.collect();
      const byName = new Map(families.map((f) => [f.name, f]));
      expect(byName.get('atomic_stats_registry_entries')!.samples[0]!.value).toBe(1);
      // Only the good set is exported: one family, one series per field.
      expect(families.filter((f) => f.name.startsWith('atomic_stats_set_')).map((f) => f.name)).toEqual(['atomic_stats_set_good_total']);
      expect(byName.get('atomic_stats_set_good_total')!.samples.find((x) => x.labels.field === 'a')!.value).toBe(7n);
      expect(r.usage()).toEqual({ ...before, entries: 1, corruptRecords: 1 });
    }
    // One warning for the one corrupt record, however often it is read.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`slot ${victim.slot} at offset ${victim.offset}`);

    // A fresh attachment (no cached entries) asking for the name.
    const other = StatsRegistry.attach(r.handle);
    if (lookup === 'corrupt') {
      const err = expectRefusedUnchanged(other, () => other.counters('victim', ['a', 'b']), CorruptRegistryError);
      expect((err as CorruptRegistryError).code).toBe('ERR_CORRUPT_REGISTRY');
      expect((err as CorruptRegistryError).entryName).toBe('victim');
    } else {
      const header = fixedHeader(r);
      const set = other.counters('victim', ['a', 'b']);
      for (let i = 0; i < 1000; i++) set.counter('a').inc();
      expect(set.snapshot()).toEqual({ a: 1000, b: 0 });
      expect(fixedHeader(r)).toEqual(header);
      expect(r.entries().map((e) => e.name).sort()).toEqual(['good', 'victim']);
    }
    // The creator's own cached objects keep their cells; 'good' is intact everywhere.
    expect(other.counters('good', ['a', 'b']).snapshot()).toEqual({ a: 7, b: 0 });
  });

  // Strings rewritten in place after a listing decoded them are, by design, not seen again
  // by that attachment (src/directory.ts); every corruption of a record's head is.
  const HEAD_CORRUPTIONS = CORRUPTIONS.filter(([what]) => !/signature|name byte/.test(what) || /length/.test(what));
  it.each(HEAD_CORRUPTIONS)('%s, after a listing kept its parsed signature', (_, patch) => {
    const { r, victim } = twoSets();
    expect(r.entries().map((e) => e.name).sort()).toEqual(['good', 'victim']);
    r.collect();
    patch(i32Of(r), u8Of(r), victim.offset);
    // The parse kept from the listing above must not vouch for the changed record.
    expect(r.entries().map((e) => e.name)).toEqual(['good']);
    expect(r.collect().filter((f) => f.name.startsWith('atomic_stats_set_')).map((f) => f.name)).toEqual(['atomic_stats_set_good_total']);
    expect(warnings).toHaveLength(1);
  });

  it('a listing parses only the signatures the previous one did not; descriptors are frozen', () => {
    const r = StatsRegistry.create();
    for (let i = 0; i < 20; i++) r.counters(`s${i}`, ['a', 'b']).counter('a').add(i);
    r.collect();
    const parse = vi.spyOn(JSON, 'parse');
    expect(r.collect().find((f) => f.name === 'atomic_stats_set_s7_total')!.samples[0]!.value).toBe(7n);
    expect(parse).not.toHaveBeenCalled();
    r.counters('late', ['x']);
    expect(r.entries().map((e) => e.name)).toContain('late');
    expect(parse).toHaveBeenCalledTimes(1);
    parse.mockRestore();
    const d = r.entries().find((e) => e.name === 's3')!.descriptor as { fields: string[] };
    expect(Object.isFrozen(d) && Object.isFrozen(d.fields)).toBe(true);
    expect(() => d.fields.push('c')).toThrow(TypeError);
    expect(r.entries().find((e) => e.name === 's3')!.descriptor).toEqual({ fields: ['a', 'b'], striped: false });
  });

  it('a slot pointing at a record another slot holds is skipped', () => {
    const { r } = twoSets();
    const good = recordOf(r, 'good');
    const i32 = i32Of(r);
    const free = Array.from({ length: 1024 }, (_, k) => k).find((k) => i32[HEADER_BYTES / 4 + k] === 0)!;
    forgeSlot(r, free, good.offset);
    expect(r.entries().map((e) => e.name).sort()).toEqual(['good', 'victim']);
    expect(r.collect()[0]!.samples[0]!.value).toBe(2);
    expect(r.usage().corruptRecords).toBe(1);
  });

  it.each([
    ['into the header', 0x10],
    ['into the directory', HEADER_BYTES],
    ['unaligned', -1],
    ['beyond the memory', 0x7fffff80],
    ['negative', -128],
  ])('a slot pointing %s is skipped, and lookups through it still work', (_, where) => {
    const { r, victim } = twoSets();
    const i32 = i32Of(r);
    i32[HEADER_BYTES / 4 + victim.slot] = where === -1 ? victim.offset + 4 : where;
    expect(r.entries().map((e) => e.name)).toEqual(['good']);
    expect(r.usage()).toMatchObject({ entries: 1, corruptRecords: 1 });
    expect(StatsRegistry.attach(r.handle).counters('good', ['a', 'b']).snapshot()).toEqual({ a: 7, b: 0 });
  });

  it('two records with one name: the second is skipped', () => {
    const { r, victim } = twoSets();
    const good = recordOf(r, 'good');
    const u8 = u8Of(r);
    const i32 = i32Of(r);
    // A copy of 'good' (head block and data) in unallocated memory, published in the
    // victim's slot: a well-formed record whose name another record already has.
    const copy = r.usage().usedBytes;
    u8.copyWithin(copy, good.offset, good.offset + 256);
    i32[(copy + R_DATA) >>> 2] = copy + 128;
    i32[HEADER_BYTES / 4 + victim.slot] = copy;
    expect(r.entries().map((e) => e.name)).toEqual(['good']);
    expect(r.usage().corruptRecords).toBe(1);
  });

  it('a breaker whose stored config is invalid is skipped by collect()', () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    r.circuitBreaker('db', { failureThreshold: 5 });
    r.counters('c', ['x']).counter('x').inc();
    const rec = recordOf(r, 'db');
    const u8 = u8Of(r);
    const at = rec.offset + RECORD_HEAD_BYTES + 2;
    const sig = Buffer.from(u8.slice(at, at + i32Of(r)[(rec.offset + R_SIG_LEN) >>> 2]!)).toString();
    expect(sig).toContain('"failureThreshold":5,');
    u8.set(Buffer.from(sig.replace('"failureThreshold":5,', '"failureThreshold":0,')), at);
    const names = r.collect().map((f) => f.name);
    expect(names).toContain('atomic_stats_set_c_total');
    expect(names.some((n) => n.includes('circuit_breaker'))).toBe(false);
    expect(r.usage().corruptRecords).toBe(1);
    expect(warnings).toHaveLength(1);
  });

  it('a listing decodes at most the record area: heads that overlap are cut off', () => {
    const capacity = 1 << 20;
    const r = StatsRegistry.create({ capacityBytes: capacity });
    const i32 = i32Of(r);
    const rs = recordsStart(capacity, r.stripes);
    // Every slot points at a record 128 bytes after the previous one, each claiming a
    // signature of 8192 bytes: each head passes the bounds checks alone, and decoding
    // them all would read about 1000 x 8 KiB from a 1 MiB memory.
    const head = 8320; // alignUp(32 + 1 + 8192, 128)
    let forged = 0;
    for (let k = 0; k < 1024; k++) {
      const p = rs + k * 128;
      if (p + head > capacity) break;
      i32.set([0, 1, 1, 8192, p + head, 0], p >>> 2);
      forgeSlot(r, k, p);
      forged++;
    }
    expect(forged).toBeGreaterThan(900);
    expect(r.entries()).toEqual([]);
    expect(r.usage().corruptRecords).toBe(forged);
    const reasons = [...r.directory.corruptSlots().values()];
    const cutOff = reasons.filter((m) => m === 'records overlap').length;
    // At most (record area / head size) heads were decoded; the rest were cut off unread.
    expect(forged - cutOff).toBeLessThanOrEqual(Math.floor((capacity - rs) / head));
    expect(cutOff).toBeGreaterThan(0);
    // One warning for the whole listing, naming the first few and counting the rest.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`skipped ${forged} corrupt registry records`);
    expect(warnings[0]).toContain(`and ${forged - 3} more`);
  });

  it('forged copies of a record do not hide it', () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 16 });
    r.counters('x', ['a']);
    const rec = recordOf(r, 'x');
    const i32 = i32Of(r);
    // Forge records every 128 bytes over the rest of the memory, each claiming the whole
    // rest as its data: each passes the head check alone, together they overlap.
    const u8 = u8Of(r);
    let forged = 0;
    for (let p = r.usage().usedBytes, k = 0; p + 256 <= r.capacityBytes && k < 64; p += 128, k++) {
      if (i32[HEADER_BYTES / 4 + k] !== 0) continue;
      u8.copyWithin(p, rec.offset, rec.offset + 128);
      i32[(p + R_DATA) >>> 2] = p + 128;
      i32[(p + R_DATA_BYTES) >>> 2] = r.capacityBytes - p - 128;
      forgeSlot(r, k, p);
      forged++;
    }
    expect(forged).toBeGreaterThan(10);
    // Every forged record has the name 'x' too, and data that does not fit its fields.
    expect(r.entries()).toEqual([{ name: 'x', kind: 'counters', descriptor: { fields: ['a'], striped: false } }]);
    expect(r.usage().corruptRecords).toBe(forged);
    expect(StatsRegistry.attach(r.handle).counters('x', ['a']).counter('a').value()).toBe(0);
  });
});

describe('the header is read once, at attach', () => {
  it('a corrupted directory size changes nothing for attached threads and is refused at attach', () => {
    const r = StatsRegistry.create({ capacityBytes: 16 << 20 });
    for (let i = 0; i < 100; i++) r.counters(`n${i}`, ['v']).counter('v').add(i);
    const entries = r.entries();
    i32Of(r)[H_DIR_SLOTS] = 0x7fffffff;
    expect(r.entries()).toEqual(entries);
    expect(r.usage().entries).toBe(100);
    r.counters('late', ['v']).counter('v').inc();
    expect(r.entries()).toHaveLength(101);
    expect(() => StatsRegistry.attach(r.handle)).toThrow(InvalidHandleError);
    expect(() => StatsRegistry.attach(r.handle)).toThrow(/directory size/);
  });

  it('a corrupted directory offset changes nothing for attached threads and is refused at attach', () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    r.counters('a', ['v']).counter('v').add(3);
    i32Of(r)[H_DIR_OFFSET] = 1 << 19;
    expect(r.entries().map((e) => e.name)).toEqual(['a']);
    expect(r.counters('a', ['v']).counter('v').value()).toBe(3);
    expect(() => StatsRegistry.attach(r.handle)).toThrow(/directory offset/);
  });

  it('a corrupted attachment counter or stripe-slot table never steers writes outside a set', () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20, stripes: 4 });
    r.counters('before', ['v']).counter('v').add(1);
    const i32 = i32Of(r);
    i32[H_NEXT_SLOT] = -3;
    // Garbage in every entry of the slot table and in its trailer (the count of
    // attachments without a stripe): every stripe looks held.
    const table = i32[H_SLOT_TABLE]! >>> 2;
    for (let w = 0; w < (r.stripes + 1) * 4; w++) i32[table + w] = -7;
    const a = StatsRegistry.attach(r.handle);
    expect(a.slot).toBeGreaterThanOrEqual(r.stripes); // no owned stripe: atomic adds to the shared one
    const set = a.counters('s', ['v'], { striped: true });
    r.counters('after', ['v']).counter('v').add(2);
    const around = () => [r.counters('before', ['v']).snapshot(), r.counters('after', ['v']).snapshot(), fixedHeader(r)];
    const was = around();
    for (let i = 0; i < 1000; i++) set.counter('v').inc();
    expect(set.counter('v').value()).toBe(1000);
    expect(around()).toEqual(was);
  });

  it.each([
    ['0', 0],
    ['into the header', 16],
    ['into the directory', HEADER_BYTES + 128],
    ['unaligned', -1],
    ['beyond the memory', (1 << 20) + 128],
    ['negative', -128],
  ])('a bump pointer %s refuses allocation with CorruptRegistryError and writes nothing', (_, top) => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    r.counters('a', ['v']).counter('v').add(3);
    const i32 = i32Of(r);
    i32[H_ALLOC_TOP] = top === -1 ? i32[H_ALLOC_TOP]! + 4 : top;
    expectRefusedUnchanged(r, () => r.counters('new', ['v']), CorruptRegistryError);
    // Existing entries are still found (no allocation needed).
    expect(StatsRegistry.attach(r.handle).counters('a', ['v']).counter('v').value()).toBe(3);
    const u = r.usage();
    expect(u.usedBytes).toBeGreaterThanOrEqual(recordsStart(1 << 20, r.stripes));
    expect(u.usedBytes).toBeLessThanOrEqual(1 << 20);
  });
});

describe('a refused call allocates nothing', () => {
  it.each(BACKENDS)('NameConflictError, RegistryFullError and InvalidOptionsError leave every byte as it was (%s)', (backend) => {
    const r = StatsRegistry.create({ capacityBytes: 65536, backend });
    r.counters('s', ['a']).counter('a').inc();
    r.circuitBreaker('b');
    const other = StatsRegistry.attach(r.handle, { backend });
    expectRefusedUnchanged(other, () => other.counters('s', ['a', 'b']), NameConflictError);
    expectRefusedUnchanged(other, () => other.counters('s', ['a'], { striped: true }), NameConflictError);
    expectRefusedUnchanged(other, () => other.stepExecutionStats('s'), NameConflictError);
    expectRefusedUnchanged(other, () => other.circuitBreaker('b', { failureThreshold: 9 }), NameConflictError);
    expectRefusedUnchanged(other, () => other.counters('\uD800', ['a']), InvalidOptionsError);
    expectRefusedUnchanged(other, () => other.counters('t', ['a', 'a']), InvalidOptionsError);
    expectRefusedUnchanged(other, () => other.counters('t', ['a'], { striped: 1 } as never), InvalidOptionsError);
    // Fill the memory, then one more.
    const big = Array.from({ length: 64 }, (_, i) => `f${i}`);
    let n = 0;
    for (;;) {
      try {
        other.counters(`fill${n}`, big, { striped: true });
        n++;
      } catch (e) {
        expect(e).toBeInstanceOf(RegistryFullError);
        break;
      }
    }
    expect(n).toBeGreaterThan(0);
    expectRefusedUnchanged(other, () => other.counters(`fill${n}`, big, { striped: true }), RegistryFullError);
    // A description longer than a record holds (not reachable through the typed API).
    expectRefusedUnchanged(other, () => other.directory.findOrCreate({ name: 'big', kind: 1, signature: 'x'.repeat(8193), dataBytes: 8 }), InvalidOptionsError);
  });

  it('a full directory refuses the next name, changing nothing', () => {
    const r = StatsRegistry.create({ capacityBytes: 65536 });
    for (let i = 0; i < 64; i++) r.counters(`n${i}`, ['v']).counter('v').inc();
    expectRefusedUnchanged(r, () => r.counters('one-too-many', ['v']), RegistryFullError);
  });

  it('workers racing to create the same names, half with another field list: every byte is accounted for', async () => {
    const capacityBytes = 512 * 1024;
    const stripes = 4;
    const registry = StatsRegistry.create({ capacityBytes, stripes });
    const start = registry.usage().usedBytes;
    expect(start).toBe(recordsStart(capacityBytes, stripes));
    const names = Array.from({ length: 150 }, (_, i) => `race.${i}`);
    const WORKERS = 6;
    const results = await runWorkers<{ fields: string[]; outcome: Record<string, string> }>('create-race.mjs', WORKERS, (i) => ({
      handle: registry.handle,
      backend: i % 3 === 0 ? 'js' : 'wasm',
      names,
    }));
    const entries = registry.entries();
    expect(entries.map((e) => e.name).sort()).toEqual([...names].sort());
    // One log entry per published record: racers that lost the publishing CAS logged nothing.
    const log = logOf(registry);
    expect(log.length).toBe(names.length);
    expect(new Set(log.entries).size).toBe(names.length);
    expect(slotScanNames(registry).sort()).toEqual([...names].sort());
    let published = 0;
    for (const e of entries) {
      const fields = (e.descriptor as { fields: string[] }).fields;
      published += counterRecordBytes(e.name, fields, false, stripes);
      // Exactly the workers with the winner's field list opened it; the others got
      // NameConflictError, and the cells hold exactly the openers' adds.
      let sum = 0;
      results.forEach((res, i) => {
        const same = res.fields.join() === fields.join();
        expect(res.outcome[e.name], `${e.name} in worker ${i}`).toBe(same ? 'opened' : 'ERR_NAME_CONFLICT');
        if (same) sum += i + 1;
      });
      expect(registry.counters(e.name, fields).counter('a').value()).toBe(sum);
    }
    const u = registry.usage();
    expect(u.corruptRecords).toBe(0);
    // Every byte handed out is a published record or counted as abandoned...
    expect(u.usedBytes).toBe(start + published + u.abandonedBytes);
    // ...and at most one record per losing worker per name was abandoned (the documented
    // worst case), each no larger than the largest record here.
    const largest = counterRecordBytes('race.149', ['a', 'b'], false, stripes);
    expect(u.abandonedBytes % 128).toBe(0);
    expect(u.abandonedBytes).toBeLessThanOrEqual((WORKERS - 1) * names.length * largest);
  });
});

describe('creators killed mid-create', () => {
  it('leave every published record intact and at most one record of bytes each', async () => {
    const capacityBytes = 16 << 20;
    const stripes = 4;
    const registry = StatsRegistry.create({ capacityBytes, stripes });
    const start = registry.usage().usedBytes;
    const WORKERS = 4;
    const LIMIT = 1500;
    const progress = new Int32Array(new SharedArrayBuffer(4 * (WORKERS + 1)));
    const startFlag = new Int32Array(new SharedArrayBuffer(4));
    const { Worker } = await import('node:worker_threads');
    // Workers 0 and 1 create the same names (racing), 2 and 3 names of their own.
    const prefixes = ['shared', 'shared', 'own2', 'own3'];
    const workers = prefixes.map(
      (prefix, index) =>
        new Worker(new URL('./workers/create-kill.mjs', import.meta.url), {
          workerData: { handle: registry.handle, backend: index % 2 ? 'js' : 'wasm', progress: progress.buffer, start: startFlag, index, prefix, limit: LIMIT },
        }),
    );
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    Atomics.store(startFlag, 0, 1);
    Atomics.notify(startFlag, 0);
    // Terminate each worker once it is well into its loop, at a different point each.
    for (let i = 0; i < WORKERS; i++) {
      const target = 150 + 250 * i;
      while (Atomics.load(progress, i) < target) await new Promise((r) => setTimeout(r, 1));
      void workers[i]!.terminate();
    }
    await Promise.all(exited);

    const u = registry.usage();
    expect(u.corruptRecords).toBe(0);
    const entries = registry.entries();
    expect(entries.length).toBe(u.entries);
    // Listings read the published-records log: wherever a creator was killed, every
    // slot's record is listed, and no entry below the length is left unwritten.
    expect(entries.map((e) => e.name).sort()).toEqual(slotScanNames(registry).sort());
    const log = logOf(registry);
    expect(log.entries.every((v) => v > 0)).toBe(true);
    expect(new Set(log.entries).size).toBe(log.entries.length);
    // Each entry names a slot holding a record, or a slot announced by that very entry
    // whose creator was killed before publishing: at most one per killed creator.
    const words = log.entries.map((v) => i32Of(registry)[HEADER_BYTES / 4 + v - 1]!);
    expect(words.filter((p) => p > 0)).toHaveLength(entries.length);
    const announced = words.map((p, e) => [p, e] as const).filter(([p]) => p <= 0);
    for (const [p, e] of announced) expect(p).toBe(~e);
    expect(announced.length).toBeLessThanOrEqual(WORKERS);
    let published = 0;
    for (const e of entries) {
      const d = e.descriptor as { fields: string[]; striped: boolean };
      published += counterRecordBytes(e.name, d.fields, d.striped, stripes);
      const i = Number(e.name.split('.')[1]);
      // The fields and striping its creator chose for that index, and a count of 0
      // (killed before counting), 1, or 2 (both racers counted a shared name).
      expect(d.fields).toEqual(['a', 'b', 'c'].slice(0, 1 + (i % 3)));
      expect(d.striped).toBe(i % 2 === 0);
      const v = registry.counters(e.name, d.fields, { striped: d.striped }).counter('a').value();
      expect(v).toBeLessThanOrEqual(e.name.startsWith('shared') ? 2 : 1);
    }
    // Every finished name of every worker is there.
    for (let w = 0; w < WORKERS; w++) {
      const done = Atomics.load(progress, w);
      const names = new Set(entries.filter((e) => e.name.startsWith(`${prefixes[w]}.`)).map((e) => e.name));
      for (let i = 0; i < done; i++) expect(names.has(`${prefixes[w]}.${i}`)).toBe(true);
    }
    // Bytes: the published records, the abandoned ones, and at most one record per
    // killed worker that was between allocating and publishing when it died.
    const lost = u.usedBytes - (start + published + u.abandonedBytes);
    expect(lost % 128).toBe(0);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(WORKERS * counterRecordBytes('shared.1499', ['a', 'b', 'c'], true, stripes));
    // And the registry goes on: a new thread creates and counts.
    const after = StatsRegistry.attach(registry.handle);
    after.counters('after', ['v']).counter('v').add(5);
    expect(registry.counters('after', ['v']).counter('v').value()).toBe(5);
  });
});

describe('names', () => {
  it.each([['\uD800'], ['\uDC00'], ['a\uD800b'], ['\uDC00\uD800'], ['x\uDBFF']])('refuses the lone surrogate in %j everywhere, changing nothing', (name) => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    r.counters('keep', ['v']).counter('v').inc();
    for (const open of [
      () => r.counters(name, ['v']),
      () => r.stepExecutionStats(name),
      () => r.eventBusStats(name),
      () => r.workerSubscriberStats(name),
      () => r.circuitBreaker(name),
    ]) {
      const err = expectRefusedUnchanged(r, open, InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe('name');
      expect(err.message).toContain('well-formed');
    }
  });

  it("'\\uFFFD' and a surrogate pair are names of their own", () => {
    const r = StatsRegistry.create();
    r.counters('\uFFFD', ['v']).counter('v').add(1);
    r.counters('\uD83D\uDE00', ['v']).counter('v').add(2);
    const other = StatsRegistry.attach(r.handle);
    expect(other.counters('\uFFFD', ['v']).counter('v').value()).toBe(1);
    expect(other.counters('😀', ['v']).counter('v').value()).toBe(2);
    expect(r.entries().map((e) => e.name)).toEqual(expect.arrayContaining(['\uFFFD', '😀']));
  });

  const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'propertyIsEnumerable'];
  describe.each(BACKENDS)('Object.prototype names as fields (%s backend)', (backend) => {
    it.each([false, true])('are own properties of snapshot() and snapshotBigInt(), and exported (striped: %s)', (striped) => {
      const r = StatsRegistry.create({ backend });
      const set = r.counters('s', PROTO, { striped });
      PROTO.forEach((f, i) => set.counter(f).add(i + 1));
      for (const snap of [set.snapshot(), set.snapshotBigInt()] as Record<string, unknown>[]) {
        expect(Object.getPrototypeOf(snap)).toBe(Object.prototype);
        expect(Object.keys(snap)).toEqual(PROTO);
        PROTO.forEach((f, i) => {
          expect(Object.getOwnPropertyDescriptor(snap, f)?.value).toEqual(typeof snap[f] === 'bigint' ? BigInt(i + 1) : i + 1);
          expect(snap[f]).toEqual(typeof snap[f] === 'bigint' ? BigInt(i + 1) : i + 1);
        });
      }
      expect(JSON.parse(JSON.stringify(set.snapshot()))).toEqual(Object.fromEntries(PROTO.map((f, i) => [f, i + 1])));
      expect(JSON.stringify(Object.keys(JSON.parse(JSON.stringify(set.snapshot()))))).toBe(JSON.stringify(PROTO));
      expect(r.entries()).toEqual([{ name: 's', kind: 'counters', descriptor: { fields: PROTO, striped } }]);
      const fam = r.collect().find((f) => f.name === 'atomic_stats_set_s_total');
      PROTO.forEach((f, i) => {
        expect(fam?.samples.filter((x) => x.labels.field === f)).toEqual([{ labels: { set: 's', field: f }, value: BigInt(i + 1) }]);
      });
    });

    it('reach a Prometheus scrape intact', async () => {
      const r = StatsRegistry.create({ backend });
      const set = r.counters('__proto__', ['__proto__', 'constructor', 'toString']);
      set.counter('__proto__').add(3);
      set.counter('constructor').add(4);
      const register = new promClient.Registry();
      registerAtomicStats(r, { register, prefix: '' });
      const text = await register.metrics();
      expect(text).toContain('set___proto___total{set="__proto__",field="__proto__"} 3');
      expect(text).toContain('set___proto___total{set="__proto__",field="constructor"} 4');
      expect(text).toContain('set___proto___total{set="__proto__",field="toString"} 0');
    });

    it('work as entry names too', () => {
      const r = StatsRegistry.create({ backend });
      PROTO.forEach((n, i) => r.counters(n, ['v']).counter('v').add(i + 1));
      expect(r.entries().map((e) => e.name)).toEqual(expect.arrayContaining(PROTO));
      const samples = r.collect().flatMap((f) => (f.name.startsWith('atomic_stats_set_') ? f.samples : []));
      expect(samples).toHaveLength(PROTO.length);
      PROTO.forEach((n, i) => expect(samples).toContainEqual({ labels: { set: n, field: 'v' }, value: BigInt(i + 1) }));
      const other = StatsRegistry.attach(r.handle, { backend });
      PROTO.forEach((n, i) => expect(other.counters(n, ['v']).snapshot()).toEqual({ v: i + 1 }));
    });
  });
});

describe('collect() options', () => {
  it.each([
    [{ prefx: 'x_' }, 'prefx'],
    [{ prefix: 7 }, 'prefix'],
    [{ prefix: 'has space' }, 'prefix'],
    [{ prefix: '1abc' }, 'prefix'],
    [{ buses: 'bus' }, 'buses'],
    [{ buses: [{}] }, 'buses'],
    [{ buses: [null] }, 'buses'],
    ['prefix', 'options'],
    [null, 'options'],
    [[], 'options'],
  ])('%j is refused naming %s, changing nothing', (options, option) => {
    const r = StatsRegistry.create();
    r.counters('s', ['v']).counter('v').inc();
    const err = expectRefusedUnchanged(r, () => r.collect(options as never), InvalidOptionsError);
    expect((err as InvalidOptionsError).option).toBe(option);
  });

  it('accepts an empty prefix, a custom one, and no options', () => {
    const r = StatsRegistry.create();
    r.counters('s', ['v']).counter('v').inc();
    expect(r.collect({ prefix: '' }).map((f) => f.name)).toContain('set_s_total');
    expect(r.collect({ prefix: 'app:x_' }).map((f) => f.name)).toContain('app:x_set_s_total');
    expect(r.collect(undefined).map((f) => f.name)).toContain('atomic_stats_set_s_total');
    expect(r.collect({ buses: [] }).map((f) => f.name)).toContain('atomic_stats_set_s_total');
  });
});
