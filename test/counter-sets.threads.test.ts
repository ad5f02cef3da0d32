import { describe, expect, it } from 'vitest';
import { StatsRegistry, type BackendKind } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { readyCount, startFlag, startWorkers } from './helpers/workers.js';

const MIXES: Record<string, BackendKind[]> = {
  wasm: ['wasm', 'wasm', 'wasm', 'wasm'],
  js: ['js', 'js', 'js', 'js'],
  mixed: ['wasm', 'js', 'wasm', 'js'],
};

const PER_STEP = 62_500; // 4 steps: 250,000 operations per worker

describe.each(Object.entries(MIXES))('4 workers x 250,000 increments (%s)', (_, backends) => {
  // stripes: 2 leaves the main thread and one worker with a stripe of their own; the
  // other three workers share the shared stripe's atomic cells. 16 gives everyone one.
  it.each([2, 16])('exact totals over plain and striped sets (stripes: %i)', async (stripes) => {
    const registry = StatsRegistry.create({ stripes });
    const plan = [
      { set: 'plain', fields: ['a', 'b', 'c'], striped: false, field: 'a', count: PER_STEP },
      { set: 'plain', fields: ['a', 'b', 'c'], striped: false, field: 'c', count: PER_STEP, by: 3 },
      { set: 'striped', fields: ['a', 'b', 'c'], striped: true, field: 'a', count: PER_STEP },
      { set: 'striped', fields: ['a', 'b', 'c'], striped: true, field: 'b', count: PER_STEP, by: 5 },
    ];
    const start = startFlag();
    const run = startWorkers<{ slot: number }>(
      'counter-worker.mjs',
      backends.map((backend) => ({ mode: 'stress', handle: registry.handle, backend, plan, start: start.sab })),
    );
    await readyCount(run.workers);
    start.release();
    const results = await run.results;
    expect(new Set(results.map((r) => r.slot)).size).toBe(4);
    expect(registry.counters('plain', ['a', 'b', 'c']).snapshot()).toEqual({ a: 4 * PER_STEP, b: 0, c: 4 * 3 * PER_STEP });
    expect(registry.counters('striped', ['a', 'b', 'c'], { striped: true }).snapshot()).toEqual({
      a: 4 * PER_STEP,
      b: 4 * 5 * PER_STEP,
      c: 0,
    });
  });
});

describe.each([false, true])('directory race (striped: %s)', (striped) => {
  it('4 workers get-or-create the same 50 names at once and share their cells', async () => {
    const registry = StatsRegistry.create();
    const names = Array.from({ length: 50 }, (_, i) => `race.${i}`);
    const start = startFlag();
    const run = startWorkers(
      'counter-worker.mjs',
      [0, 1, 2, 3].map((index) => ({ mode: 'race', handle: registry.handle, backend: BACKENDS[index % 3], names, index, striped, start: start.sab })),
    );
    await readyCount(run.workers);
    start.release();
    await run.results;
    const entries = registry.entries();
    expect(entries.map((e) => e.name).sort()).toEqual([...names].sort());
    // Each worker added index + 1 to every set: 1 + 2 + 3 + 4.
    for (const name of names) expect(registry.counters(name, ['n'], { striped }).counter('n').value()).toBe(10);
  });
});

describe.each([false, true])('a worker terminated mid-loop (striped: %s)', (striped) => {
  it('leaves the others to finish, nothing hangs, and the totals match the work done', async () => {
    const registry = StatsRegistry.create();
    const start = startFlag();
    const iterations = [200_000, 200_000, 200_000, 1_000_000_000]; // the last one never finishes
    const run = startWorkers<{ done: number } | undefined>(
      'counter-worker.mjs',
      iterations.map((n, index) => ({ mode: 'fault', handle: registry.handle, backend: BACKENDS[index % 3], iterations: n, index, striped, start: start.sab })),
      true,
    );
    await readyCount(run.workers);
    start.release();
    const victimDone = registry.counters('fault-done-3', ['done']).counter('done');
    while (victimDone.value() < 100_000) await new Promise((r) => setTimeout(r, 5));
    await run.workers[3]!.terminate();
    const results = await run.results;
    expect(results.slice(0, 3)).toEqual([{ done: 200_000 }, { done: 200_000 }, { done: 200_000 }]);
    expect(results[3]).toBeUndefined();
    const done = [0, 1, 2, 3].map((i) => registry.counters(`fault-done-${i}`, ['done']).counter('done').value());
    expect(done.slice(0, 3)).toEqual([200_000, 200_000, 200_000]);
    expect(done[3]).toBeGreaterThanOrEqual(100_000);
    expect(done[3]).toBeLessThan(1_000_000_000);
    const total = registry.counters('fault', ['total'], { striped }).counter('total').value();
    // The victim adds to the total before its own counter, so it may have been stopped
    // between the two: at most one increment of its last iteration is unaccounted for.
    const reported = done.reduce((s, n) => s + n, 0);
    expect(total - reported).toBeGreaterThanOrEqual(0);
    expect(total - reported).toBeLessThanOrEqual(1);
  });
});

const COMBOS: [BackendKind, BackendKind, BackendKind][] = [
  ['wasm', 'wasm', 'wasm'],
  ['js', 'js', 'js'],
  ['wasm', 'js', 'js'],
  ['js', 'wasm', 'wasm'],
];

describe.each([false, true])('readers racing writers that carry on every update (striped: %s)', (striped) => {
  it.each(COMBOS)('writers %s + %s, reader %s: never a torn or backward read', async (w1, w2, reader) => {
    // Few stripes so each read is quick and many reads land while the writers run.
    const registry = StatsRegistry.create({ stripes: 4 });
    const iterations = 300_000;
    const start = startFlag();
    const stop = new SharedArrayBuffer(4);
    const max = (2n * BigInt(iterations) * 16777217n).toString();
    const writers = startWorkers(
      'counter-worker.mjs',
      [w1, w2].map((backend) => ({ mode: 'carry-writer', handle: registry.handle, backend, iterations, striped, start: start.sab })),
    );
    const readers = startWorkers<{ reads: number; violations: number; firstViolation: string | null }>('counter-worker.mjs', [
      { mode: 'carry-reader', handle: registry.handle, backend: reader, striped, start: start.sab, stop, max },
    ]);
    await Promise.all([readyCount(writers.workers), readyCount(readers.workers)]);
    start.release();
    await writers.results;
    Atomics.store(new Int32Array(stop), 0, 1);
    const [r] = await readers.results;
    expect(r!.firstViolation).toBeNull();
    expect(r!.violations).toBe(0);
    expect(r!.reads).toBeGreaterThan(0);
    expect(registry.counters('carry', ['v'], { striped }).counter('v').valueBigInt()).toBe(BigInt(max));
  });
});
