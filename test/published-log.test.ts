// The directory's published-records log: listings cost O(records), not O(directory slots),
// and a corrupt log is bounded, reported once and never hides a sound record.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import {
  BLOCK,
  HEADER_BYTES,
  H_PUBLISHED,
  H_SLOT_TABLE,
  directorySlotsFor,
  publishedLogOffset,
  slotTableOffset,
} from '../src/layout.js';
import { announceByHand, bytesOf, forgeSlot, freeSlotFor, i32Of, logOf, recordOf, recordsStart, slotScanNames } from './helpers/memory.js';
import { stopAtWrite } from './helpers/stop.js';
import { runWorkers } from './helpers/workers.js';

let warnings: string[];
beforeEach(() => {
  warnings = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error, o?: { code?: string }) => {
    if (o?.code === 'ERR_CORRUPT_REGISTRY') warnings.push(String(w));
  }) as typeof process.emitWarning);
});
afterEach(() => vi.restoreAllMocks());

const logWord = (r: StatsRegistry, entry: number) => publishedLogOffset(directorySlotsFor(r.capacityBytes)) / 4 + entry;
const names = (r: StatsRegistry) => r.entries().map((e) => e.name);

/** A registry with sets 'a', 'b', 'c' created in that order, 'b' counted to 5. */
function three(capacityBytes = 1 << 20) {
  const r = StatsRegistry.create({ capacityBytes, stripes: 2 });
  r.counters('a', ['v']);
  r.counters('b', ['v']).counter('v').add(5);
  r.counters('c', ['v']);
  return r;
}

describe('layout', () => {
  it.each([1 << 16, 1 << 20, 64 << 20])('the log lies between the directory and the stripe-slot table (%i bytes)', (capacityBytes) => {
    const r = StatsRegistry.create({ capacityBytes, stripes: 4 });
    const slots = directorySlotsFor(capacityBytes);
    const log = publishedLogOffset(slots);
    expect(log).toBeGreaterThanOrEqual(HEADER_BYTES + slots * 4);
    expect(log % BLOCK).toBe(0);
    expect(slotTableOffset(slots)).toBeGreaterThanOrEqual(log + slots * 4);
    expect(i32Of(r)[H_SLOT_TABLE]).toBe(slotTableOffset(slots));
    expect(r.usage().usedBytes).toBe(recordsStart(capacityBytes, 4));
    expect(logOf(r)).toEqual({ length: 0, entries: [] });
  });
});

describe('what creators write', () => {
  it('one entry per record, naming its slot, in creation order; finding a name appends nothing', () => {
    const r = three();
    r.counters('b', ['v']);
    StatsRegistry.attach(r.handle).counters('a', ['v']);
    const log = logOf(r);
    expect(log.length).toBe(3);
    expect(log.entries).toEqual(['a', 'b', 'c'].map((n) => recordOf(r, n).slot + 1));
    expect(names(r)).toEqual(['a', 'b', 'c']);
  });

  it('a labelled metric is one logged record, whatever its series', async () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const c = r.counter({ name: 'req_total', help: 'R.', labelNames: ['code'] });
    for (let i = 0; i < 50; i++) c.inc({ code: String(200 + i) });
    expect(logOf(r).length).toBe(1);
    expect(logOf(r).length).toBe(slotScanNames(r).length);
    expect(names(r).sort()).toEqual(slotScanNames(r).sort());
    expect((await c.get()).values).toHaveLength(50);
  });
});

describe('listings read the log, not the slots', () => {
  it('garbage in every unlogged slot is never read: nothing reported, every record listed', () => {
    const r = three();
    const i32 = i32Of(r);
    const logged = new Set(logOf(r).entries.map((v) => v - 1));
    for (let k = 0; k < directorySlotsFor(r.capacityBytes); k++) if (!logged.has(k)) i32[HEADER_BYTES / 4 + k] = 0x10;
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.usage()).toMatchObject({ entries: 3, corruptRecords: 0 });
    expect(r.collect().find((f) => f.name === 'atomic_stats_set_b_total')!.samples[0]!.value).toBe(5n);
    expect(warnings).toEqual([]);
  });

  it('an entry whose slot is announced and holds no record yet is skipped without a report, then listed once published', () => {
    const r = StatsRegistry.create({ capacityBytes: 1 << 20 });
    r.counters('early', ['n']).counter('n').add(1);
    const reader = StatsRegistry.attach(r.handle);
    const family = (x: StatsRegistry) => x.collect().filter((f) => f.name === 'atomic_stats_set_late_total');
    expect(names(reader)).toEqual(['early']);
    // A creator of 'late' wrote its log entry and was terminated; another thread finished
    // its log steps (announced the slot, moved the length).
    const slot = freeSlotFor(r, 'late');
    const entry = announceByHand(r, slot, 3);
    const before = logOf(r);
    expect(names(reader)).toEqual(['early']);
    expect(family(reader)).toEqual([]);
    expect(reader.usage().corruptRecords).toBe(0);
    // Another thread creates it: it publishes in the announced slot, logged already.
    StatsRegistry.attach(r.handle).counters('late', ['n']).counter('n').add(2);
    expect(recordOf(r, 'late').slot).toBe(slot);
    expect(logOf(r)).toEqual(before);
    expect(logOf(r).entries[entry]).toBe(slot + 1);
    expect(names(reader)).toEqual(['early', 'late']);
    expect(family(reader).map((f) => f.samples.map((x) => x.value))).toEqual([[2n]]);
    expect(names(reader)).toEqual(['early', 'late']);
    expect(warnings).toEqual([]);
  });
});

describe('a creator stopped at any step', () => {
  it('whatever write it stopped before, every record in a slot is listed, and the next threads finish its work', () => {
    let stops = 0;
    for (let n = 1; ; n++) {
      const r = StatsRegistry.create({ capacityBytes: 1 << 20, stripes: 2 });
      r.counters('a', ['v']).counter('v').inc();
      // The creator of 'victim' stops on the way into its n-th Atomics write.
      const stopped = stopAtWrite(n, () => r.counters('victim', ['v']));
      const other = StatsRegistry.attach(r.handle);
      expect(names(other).sort(), `stopped before write ${n}`).toEqual(slotScanNames(r).sort());
      expect(names(r).sort(), `stopped before write ${n}`).toEqual(slotScanNames(r).sort());
      expect(other.usage().corruptRecords).toBe(0);
      // Other threads go on: one creates another name, one opens the victim and counts.
      other.counters('b', ['v']).counter('v').inc();
      StatsRegistry.attach(r.handle).counters('victim', ['v']).counter('v').add(2);
      for (const reader of [r, other, StatsRegistry.attach(r.handle)]) expect(names(reader).sort()).toEqual(['a', 'b', 'victim']);
      expect(slotScanNames(r).sort()).toEqual(['a', 'b', 'victim']);
      expect(other.counters('victim', ['v']).counter('v').value()).toBe(2);
      // One entry per slot, each naming a record.
      const log = logOf(r);
      expect(log.length).toBe(3);
      expect(new Set(log.entries).size).toBe(3);
      for (const v of log.entries) expect(i32Of(r)[HEADER_BYTES / 4 + v - 1]).toBeGreaterThan(0);
      expect(warnings).toEqual([]);
      if (!stopped) break;
      stops++;
    }
    // Allocation, the log and the publishing CAS: a create makes several writes.
    expect(stops).toBeGreaterThanOrEqual(3);
  });

  it('after writing its log entry: the entry at the length names a free slot; listings skip it, the next creator announces it', () => {
    const r = three();
    const slot = freeSlotFor(r, 'victim');
    const entry = announceByHand(r, slot, 1);
    expect(entry).toBe(3);
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.usage()).toMatchObject({ entries: 3, corruptRecords: 0 });
    expect(logOf(r).length).toBe(3);
    // Any creator finishes the stopped one's append before its own: the slot is
    // announced by that entry, and the length moves past it.
    const other = StatsRegistry.attach(r.handle);
    other.counters('d', ['v']);
    const i32 = i32Of(r);
    expect(i32[HEADER_BYTES / 4 + slot] === ~entry || recordOf(r, 'd').slot === slot).toBe(true);
    expect(logOf(r).entries[entry]).toBe(slot + 1);
    other.counters('victim', ['v']).counter('v').inc();
    expect(names(r).sort()).toEqual(['a', 'b', 'c', 'd', 'victim']);
    const log = logOf(r);
    expect(log.length).toBe(5);
    expect(new Set(log.entries).size).toBe(5);
    expect(r.usage().corruptRecords).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('after writing its log entry, its steps finished by another thread: lookups stop at the announced slot, the next creator probing through it publishes there', () => {
    const r = three();
    const slot = freeSlotFor(r, 'victim');
    const entry = announceByHand(r, slot, 3);
    const other = StatsRegistry.attach(r.handle);
    expect(other.entries().map((e) => e.name)).toEqual(['a', 'b', 'c']);
    expect(other.usage()).toMatchObject({ entries: 3, corruptRecords: 0 });
    other.counters('victim', ['v']).counter('v').add(4);
    expect(recordOf(r, 'victim').slot).toBe(slot);
    expect(logOf(r).length).toBe(entry + 1);
    expect(names(r)).toEqual(['a', 'b', 'c', 'victim']);
    expect(r.counters('victim', ['v']).counter('v').value()).toBe(4);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['an entry that names another slot', (r: StatsRegistry) => ~logOf(r).entries.findIndex((v) => v > 0)],
    ['an entry past the log', () => -0x80000000],
    ['an entry not written', (r: StatsRegistry) => ~(logOf(r).length + 5)],
  ])('a negative slot word announcing %s is corrupt: reported once, walked past by lookups and creators', (_, word) => {
    const r = three();
    const slot = freeSlotFor(r, 'victim');
    const i32 = i32Of(r);
    const forged = word(r);
    i32[HEADER_BYTES / 4 + slot] = forged;
    const before = logOf(r);
    const other = StatsRegistry.attach(r.handle);
    expect(other.counters('victim', ['v']).counter('v').inc()).toBeUndefined();
    expect(recordOf(r, 'victim').slot).not.toBe(slot);
    expect(i32[HEADER_BYTES / 4 + slot]).toBe(forged);
    expect(logOf(r).length).toBe(before.length + 1);
    expect(other.counters('victim', ['v']).counter('v').value()).toBe(1);
    expect(names(other)).toEqual(['a', 'b', 'c', 'victim']);
    expect(other.usage().corruptRecords).toBe(1);
    // Each attachment that walks past it reports it, once.
    expect(warnings).toHaveLength(1);
    expect(StatsRegistry.attach(r.handle).counters('victim', ['v']).counter('v').value()).toBe(1);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/neither a record's offset nor the announcement/);
  });
});

describe('a corrupt log is bounded, reported once, and hides no sound record', () => {
  const appendRaw = (r: StatsRegistry, value: number) => {
    const i32 = i32Of(r);
    const entry = Atomics.add(i32, H_PUBLISHED, 1);
    i32[logWord(r, entry)] = value;
  };

  it.each([
    ['a slot past the directory', (r: StatsRegistry) => appendRaw(r, directorySlotsFor(r.capacityBytes) + 1), /outside the directory/],
    ['a negative slot', (r: StatsRegistry) => appendRaw(r, -7), /outside the directory/],
    ['a slot an earlier entry names', (r: StatsRegistry) => appendRaw(r, recordOf(r, 'b').slot + 1), /which an earlier entry names/],
    ['an empty slot', (r: StatsRegistry) => appendRaw(r, 1 + [...Array(1024).keys()].find((k) => i32Of(r)[HEADER_BYTES / 4 + k] === 0)!), /slot is empty/],
    [
      'a slot another entry announces',
      (r: StatsRegistry) => {
        const slot = freeSlotFor(r, 'zzz');
        announceByHand(r, slot, 3);
        appendRaw(r, slot + 1);
      },
      /which entry 3 announces/,
    ],
  ])('an entry naming %s', (_, forge, reason) => {
    const r = three();
    const sound = r.usage();
    forge(r);
    for (let round = 0; round < 2; round++) {
      expect(names(r)).toEqual(['a', 'b', 'c']);
      expect(r.usage()).toEqual({ ...sound, corruptRecords: 1 });
      expect(r.collect().find((f) => f.name === 'atomic_stats_set_b_total')!.samples[0]!.value).toBe(5n);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(reason);
  });

  it('a huge length reads at most the slot count, and a creator never writes past the log', () => {
    const r = three();
    const i32 = i32Of(r);
    i32[H_PUBLISHED] = -1; // 0xffffffff as the u32 it is read as
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.usage().corruptRecords).toBe(0); // the unwritten entries read as not written yet
    // A creator's entry index is then past the log: its slot is published, the log and
    // what follows it (the stripe-slot table) are left alone.
    const slots = directorySlotsFor(r.capacityBytes);
    const tableBefore = Buffer.from(bytesOf(r).subarray(publishedLogOffset(slots), recordsStart(r.capacityBytes, r.stripes)));
    r.counters('d', ['v']).counter('v').inc();
    const tableAfter = Buffer.from(bytesOf(r).subarray(publishedLogOffset(slots), recordsStart(r.capacityBytes, r.stripes)));
    expect(Buffer.compare(tableAfter, tableBefore)).toBe(0);
    expect(r.counters('d', ['v']).counter('v').value()).toBe(1);
  });

  it('an entry at the length naming no slot: listings report it once, the next creator moves the length past it', () => {
    const r = three();
    const i32 = i32Of(r);
    const slots = directorySlotsFor(r.capacityBytes);
    i32[logWord(r, 3)] = slots + 9;
    expect(names(r)).toEqual(['a', 'b', 'c']);
    const tableBefore = bytesOf(r).subarray(HEADER_BYTES, publishedLogOffset(slots));
    r.counters('d', ['v']).counter('v').inc();
    expect(logOf(r).length).toBe(5);
    // The directory changed only by the new record's slot (and its announcement before it).
    const tableAfter = bytesOf(r).subarray(HEADER_BYTES, publishedLogOffset(slots));
    const changed = [...Array(slots).keys()].filter((k) => tableAfter.readInt32LE(k * 4) !== tableBefore.readInt32LE(k * 4));
    expect(changed).toEqual([recordOf(r, 'd').slot]);
    for (let round = 0; round < 2; round++) expect(names(r)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.usage().corruptRecords).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/log entry 3: names slot .* outside the directory/);
  });

  it('a log filled with entries for every slot is read in one bounded pass', () => {
    const r = three(1 << 16);
    const slots = directorySlotsFor(r.capacityBytes);
    const i32 = i32Of(r);
    // Every entry names slot 0 (empty or not): the first sound use counts, the rest are duplicates.
    i32[H_PUBLISHED] = slots;
    const kept = logOf(r).entries.slice(0, 3);
    for (let e = 0; e < slots; e++) i32[logWord(r, e)] = e < 3 ? kept[e]! : 1;
    expect(names(r)).toEqual(['a', 'b', 'c']);
    // Entries 3.. each name slot 0: duplicates of an earlier entry when one of a..c holds
    // it, otherwise an empty slot once and duplicates after. One report each, either way.
    expect(r.usage().corruptRecords).toBe(slots - 3);
    expect(warnings).toHaveLength(1);
  });

  it('forging a record takes a log entry: a forged slot without one is not listed, with one it is checked', () => {
    const r = three();
    const a = recordOf(r, 'a');
    const i32 = i32Of(r);
    const free = [...Array(1024).keys()].find((k) => i32[HEADER_BYTES / 4 + k] === 0)!;
    i32[HEADER_BYTES / 4 + free] = a.offset;
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.usage().corruptRecords).toBe(0);
    i32[HEADER_BYTES / 4 + free] = 0;
    forgeSlot(r, free, a.offset);
    expect(names(r)).toEqual(['a', 'b', 'c']);
    expect(r.usage().corruptRecords).toBe(1);
  });
});

describe('threads', () => {
  it('series created by 4 workers while this thread keeps reading: every read lists each series once, the last one lists all with exact counts', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 32 << 20, stripes: 4 });
    const c = registry.counter({ name: 't_log_total', help: 'Series created while read.', labelNames: ['k'], maxSeries: 10_000 });
    const WORKERS = 4;
    const OWN = 2000;
    let reading = true;
    const sizes: number[] = [];
    const duplicates: string[] = [];
    const reader = (async () => {
      while (reading) {
        const values = (await c.get()).values;
        const keys = values.map((v) => String(v.labels.k));
        if (new Set(keys).size !== keys.length) duplicates.push(keys.join());
        sizes.push(keys.length);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      await runWorkers('log-creator.mjs', WORKERS, (i) => ({ handle: registry.handle, backend: i % 2 ? 'js' : 'wasm', own: OWN, maxSeries: 10_000 }));
    } finally {
      reading = false;
      await reader;
    }
    expect(duplicates).toEqual([]);
    // A series, once listed, stays listed: the count a reader sees never goes down.
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThanOrEqual(sizes[i - 1]!);
    const expected = new Map<string, number>();
    for (let w = 0; w < WORKERS; w++) for (let i = 0; i < OWN; i++) expected.set(`w${w}-${i}`, 1);
    for (let j = 0; j < OWN / 10; j++) expected.set(`shared-${j}`, WORKERS);
    const final = new Map((await c.get()).values.map((v) => [String(v.labels.k), v.value]));
    expect(final).toEqual(expected);
    // A fresh attachment (no cursor yet) reads the same, and the log holds one entry per record.
    const fresh = StatsRegistry.attach(registry.handle).counter({ name: 't_log_total', help: 'Series created while read.', labelNames: ['k'], maxSeries: 10_000 });
    expect((await fresh.get()).values).toHaveLength(expected.size);
    const log = logOf(registry);
    expect(log.length).toBe(slotScanNames(registry).length);
    expect(new Set(log.entries).size).toBe(log.length);
  });

  it('workers racing to create names: one entry per record, every record listed by every thread', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20, stripes: 4 });
    const list = Array.from({ length: 200 }, (_, i) => `log.${i}`);
    await runWorkers('create-race.mjs', 4, (i) => ({ handle: registry.handle, backend: i % 2 ? 'js' : 'wasm', names: list }));
    const log = logOf(registry);
    expect(log.length).toBe(list.length);
    expect(new Set(log.entries).size).toBe(list.length);
    expect(names(registry).sort()).toEqual([...list].sort());
    expect(StatsRegistry.attach(registry.handle).entries().map((e) => e.name).sort()).toEqual([...list].sort());
    expect(slotScanNames(registry).sort()).toEqual([...list].sort());
  });
});
