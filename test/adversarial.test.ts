// Bounded-time attacks on a registry's shared memory and on attach. Every attack and
// every read after it runs in a worker thread with a small heap and a deadline, so a
// regression (a heap blow-up, an endless loop) fails its test instead of taking the
// test process down or hanging it.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsRegistry, type RegistryHandle } from '../src/index.js';
import { H_CAPACITY, H_DIR_OFFSET, H_DIR_SLOTS, H_MAGIC, H_RECORDS_START, H_STRIPES, H_VERSION, PAGE_BYTES } from '../src/layout.js';
import { i32Of } from './helpers/memory.js';
import { forge, op } from './helpers/wasm-forge.js';
import { captureWarnings } from './helpers/warnings.js';

const HEAP_MB = 64;
const DEADLINE_MS = 30_000;

/** Runs test/workers/adversary.mjs with `data` on a 64 MB heap; resolves with its report. */
function isolated<T = Record<string, unknown>>(data: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./workers/adversary.mjs', import.meta.url), {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: 16 },
    });
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      void w.terminate();
      reject(new Error(`${String(data.mode)} did not finish within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    w.once('message', (m: T) => {
      done = true;
      clearTimeout(timer);
      resolve(m);
    });
    w.once('error', (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(e);
    });
    w.once('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${String(data.mode)} exited with ${code} without a report`));
    });
  });
}

const FIXED = [H_MAGIC, H_VERSION, H_CAPACITY, H_STRIPES, H_DIR_OFFSET, H_DIR_SLOTS, H_RECORDS_START];

/** A 16 MiB registry with `n` counter sets (1..n counted once each). */
function big(n: number, capacityBytes = 16 << 20) {
  const r = StatsRegistry.create({ capacityBytes });
  for (let i = 0; i < n; i++) r.counters(`set${i}`, ['a', 'b']).counter('a').add(i + 1);
  return r;
}

describe('a scrape of corrupt memory stays bounded and never throws', () => {
  it('0x7fffffff in the name-length word of every record of a 16 MiB registry', async () => {
    const { warnings } = captureWarnings();
    const r = big(2000);
    const report = await isolated<{ hit: number; entries: number; familyCount: number; gaugeEntries: number; usage: { entries: number; corruptRecords: number }; again: { entries: number }; warnings: number; warningText: string }>({
      mode: 'name-lengths',
      handle: r.handle,
    });
    expect(report.hit).toBe(2000);
    expect(report.entries).toBe(0);
    expect(report.gaugeEntries).toBe(0);
    expect(report.familyCount).toBe(6); // the registry's own families (entries, bytes, stripes, attachments)
    expect(report.usage).toMatchObject({ entries: 0, corruptRecords: 2000 });
    expect(report.again.entries).toBe(0);
    expect(report.warnings).toBe(1); // one line for all 2000 records, and not again
    expect(report.warningText).toContain('skipped 2000 corrupt registry records');
    // This thread too: nothing listed, nothing thrown.
    expect(r.entries()).toEqual([]);
    expect(r.collect()).toHaveLength(6); // only the registry's own families
    // This thread's one warning, for all 2000, from its first listing.
    expect(warnings.map((w) => [w.type, w.code])).toEqual([['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY']]);
    expect(warnings[0]!.message).toContain('skipped 2000 corrupt registry records');
  });

  it('a garbage signature JSON in some records', async () => {
    const r = big(100, 1 << 20);
    const report = await isolated<{ hit: number; entries: number; familyCount: number; usage: { corruptRecords: number } }>({
      mode: 'signature-garbage',
      handle: r.handle,
      count: 10,
    });
    expect(report.hit).toBe(10);
    expect(report.entries).toBe(90);
    expect(report.familyCount).toBe(6 + 90); // the registry's own families, one family per sound set
    expect(report.usage.corruptRecords).toBe(10);
  });

  it('a corrupted directory size: attached threads go on, new attaches are refused', async () => {
    const r = big(300);
    const entries = r.entries();
    i32Of(r)[H_DIR_SLOTS] = 0x7fffffff;
    expect(r.entries()).toEqual(entries);
    const report = await isolated<{ error?: string; message?: string }>({ mode: 'attach', handle: r.handle });
    expect(report.error).toBe('ERR_INVALID_HANDLE');
    expect(report.message).toContain('directory size');
  });

  it('data offsets pointing into the header: later threads never write the header', async () => {
    const { warnings } = captureWarnings();
    const r = StatsRegistry.create({ capacityBytes: 1 << 20, stripes: 4 });
    r.counters('victim', ['a', 'b']).counter('a').add(5);
    r.counters('other', ['a', 'b'], { striped: true }).counter('a').add(6);
    const header = FIXED.map((w) => i32Of(r)[w]);
    await isolated({ mode: 'data-offset-into-header', handle: r.handle });
    // Three threads (both backends, plain and striped sets) open the names and count.
    await Promise.all(
      [0, 1, 2].map((i) =>
        isolated({ mode: 'hammer', handle: r.handle, backend: i % 2 ? 'js' : 'wasm', name: i === 2 ? 'other' : 'victim', striped: i === 2, iterations: 10_000 }),
      ),
    );
    expect(FIXED.map((w) => i32Of(r)[w])).toEqual(header);
    // The corrupt records are skipped; the names were created again in fresh memory.
    const a = StatsRegistry.attach(r.handle);
    expect(a.counters('victim', ['a', 'b']).counter('a').value()).toBe(20_000);
    expect(a.counters('other', ['a', 'b'], { striped: true }).counter('a').value()).toBe(10_000);
    expect(a.usage().corruptRecords).toBe(2);
    // The new attachment reported each of the two as it met it (the workers collect theirs).
    expect(warnings.map((w) => [w.type, w.code])).toEqual([
      ['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY'],
      ['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY'],
    ]);
    for (const w of warnings) expect(w.message).toContain('data offset 0 does not follow the record\'s head');
    // This thread's own objects still hold the cells they were built on.
    expect(r.counters('victim', ['a', 'b']).counter('a').value()).toBe(5);
  });

  it.each([
    ['wasm', 0x9e3779b9],
    ['js', 0x2545f491],
  ])('random words written into the directory and the records while another thread scrapes (%s backend)', async (backend, seed) => {
    const { warnings } = captureWarnings();
    const r = big(200, 1 << 20);
    r.circuitBreaker('breaker');
    r.stepExecutionStats('steps').recordSuccess(5);
    // [0]: the reader is done, the writer stops; [1]: the writer has begun, the reader starts.
    const stop = new SharedArrayBuffer(8);
    const usedBytes = r.usage().usedBytes;
    const [reader, writer] = await Promise.all([
      isolated<{ rounds: number; errors: string[]; errorCount: number; corrupt: number }>({ mode: 'fuzz-reader', handle: r.handle, stop, rounds: 300, sets: 200, backend }),
      isolated<{ writes: number }>({ mode: 'fuzz-writer', handle: r.handle, stop, usedBytes, seed }),
    ]);
    expect(reader.errors).toEqual([]);
    expect(reader.errorCount).toBe(0);
    expect(writer.writes).toBeGreaterThan(0);
    expect(reader.corrupt).toBeGreaterThan(0);
    // And this thread can still read what is left.
    expect(() => r.collect()).not.toThrow();
    expect(() => r.entries()).not.toThrow();
    // What this thread met is corrupt records, reported as such, at least once if any.
    for (const w of warnings) expect([w.type, w.code]).toEqual(['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY']);
    if (r.usage().corruptRecords > 0) expect(warnings.length).toBeGreaterThan(0);
  });
});

describe('attach refuses forged modules and growable memory without running anything', () => {
  const identity = () => new Uint8Array(WebAssembly.Module.customSections(StatsRegistry.create({ capacityBytes: 65536 }).handle.module as WebAssembly.Module, 'atomic-stats.build')[0]!);

  it.each([
    ['a start function that writes the header', () => forge({ functions: [['abiVersion', op.i32(4)]], start: { body: [...op.i32(0), ...op.i32(0), ...op.store] } })],
    [
      'a start function that loops forever, with a copied identity',
      () => forge({ functions: [['abiVersion', op.i32(4)]], start: { body: op.loopForever }, custom: [['atomic-stats.build', identity()]] }),
    ],
    ['an abiVersion() that loops forever', () => forge({ functions: [['abiVersion', [...op.loopForever, ...op.i32(4)]]], custom: [['atomic-stats.build', identity()]] })],
    ['the wrong imports', () => forge({ importFunctions: [['env', 'abort']], functions: [['abiVersion', op.i32(4)]] })],
  ])('%s', async (_, make) => {
    const r = big(3, 1 << 20);
    const before = Buffer.from(new Uint8Array(r.handle.memory.buffer).slice());
    for (const backend of ['wasm', 'js']) {
      const report = await isolated<{ error?: string }>({ mode: 'attach', handle: { ...r.handle, module: make() }, backend });
      expect(report.error).toBe('ERR_INVALID_HANDLE');
    }
    expect(Buffer.compare(Buffer.from(new Uint8Array(r.handle.memory.buffer).slice()), before)).toBe(0);
  });

  it('a growable memory holding a valid registry', async () => {
    const r = big(3, 1 << 20);
    const pages = r.capacityBytes / PAGE_BYTES;
    const m = new WebAssembly.Memory({ initial: pages, maximum: pages * 2, shared: true });
    new Uint8Array(m.buffer).set(new Uint8Array(r.handle.memory.buffer));
    const report = await isolated<{ error?: string; message?: string }>({ mode: 'attach', handle: { ...r.handle, memory: m } as RegistryHandle });
    expect(report.error).toBe('ERR_INVALID_HANDLE');
    expect(report.message).toContain('can grow');
    // The same bytes in a fixed-size memory are accepted.
    const fixed = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    new Uint8Array(fixed.buffer).set(new Uint8Array(r.handle.memory.buffer));
    expect(await isolated({ mode: 'attach', handle: { ...r.handle, memory: fixed } })).toEqual({ ok: 3 });
  });
});
