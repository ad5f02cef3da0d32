// maxSeries is exact under racing threads: a new series is refused only when the family
// really has maxSeries series. Threads that race to create the same series claim a unit
// each and hand all but one back; those claims in flight must never make a create that
// fits look like one too many.
import { describe, expect, it } from 'vitest';
import { CardinalityLimitError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { startWorkers } from './helpers/workers.js';
import { expectRejectedKeeping, registryState } from './helpers/metrics.js';

const TRIALS = 300;
const MAX_SERIES = 8;

describe.each(BACKENDS)('threads racing to create exactly maxSeries series (%s)', (backend) => {
  it.each([2, 4])('%i threads whose overlapping lists name maxSeries series in all: none refused', async (workers) => {
    const registry = StatsRegistry.create({ capacityBytes: 16 * 1024 * 1024, backend });
    const barrier = new SharedArrayBuffer(4);
    const run = startWorkers<{ refused: { trial: number; v: string }[] }>(
      'series-race.mjs',
      Array.from({ length: workers }, (_, index) => ({ handle: registry.handle, backend, index, workers, trials: TRIALS, maxSeries: MAX_SERIES, barrier })),
    );
    const results = await run.results;
    const refused = results.flatMap((r) => r.refused);
    expect(refused).toEqual([]);
    for (let t = 0; t < TRIALS; t++) {
      const c = registry.counter({ name: `t_card_${t}_total`, help: 'Race.', labelNames: ['v'], maxSeries: MAX_SERIES });
      expect(c.seriesCount()).toBe(MAX_SERIES);
      // Each worker counted each series once.
      const values = (await c.get()).values;
      expect(values.map((x) => x.value)).toEqual(Array(MAX_SERIES).fill(workers));
    }
    // The limit itself still holds exactly, and a refusal changes nothing.
    const last = registry.counter({ name: `t_card_${TRIALS - 1}_total`, help: 'Race.', labelNames: ['v'], maxSeries: MAX_SERIES });
    expectRejectedKeeping(() => registryState(registry), () => last.inc({ v: 'one-too-many' }), CardinalityLimitError);
  });
});

describe.each(BACKENDS)('a claim that is never resolved (%s)', (backend) => {
  it('its thread died between claim and publish: a create at the limit waits a bounded time, then is refused and changes nothing', () => {
    const registry = StatsRegistry.create({ backend });
    const c = registry.counter({ name: 't_dead_total', help: 'D.', labelNames: ['v'], maxSeries: 3 });
    c.inc({ v: 'a' });
    c.inc({ v: 'b' });
    // What a claimer that stopped between its claim and its publish leaves where no thread
    // sees it stop (its creator holds no registry object, or Deno): one claim, in flight for
    // ever (the family's count word: claims in bits 0..19, a bit per ticket above; ticket 0
    // at data +32 names its thread, here one that never existed, and no node yet).
    const data = registry.checkedRecords().find((r) => r.name === 't_dead_total')!.dataOffset;
    const word = data >>> 2;
    const i32 = registry.views.i32;
    Atomics.store(i32, (data + 32) >>> 2, 1_000_000);
    Atomics.add(i32, word, 1 + (1 << 20));
    expect(c.seriesCount()).toBe(3);
    const state = () => ({ registry: registryState(registry), word: Atomics.load(i32, word) });
    expectRejectedKeeping(state, () => c.inc({ v: 'c' }), CardinalityLimitError);
    expectRejectedKeeping(state, () => c.labels('c'), CardinalityLimitError);
    // Another registry object in this thread waits once too, and is refused alike.
    const other = StatsRegistry.attach(registry.handle, { backend }).counter({ name: 't_dead_total', help: 'D.', labelNames: ['v'], maxSeries: 3 });
    expectRejectedKeeping(state, () => other.inc({ v: 'c' }), CardinalityLimitError);
    // Existing series stay reachable.
    c.inc({ v: 'a' });
    other.inc({ v: 'b' });
    // Once the claim goes back (a hand-back), the word has changed and the room is there.
    Atomics.sub(i32, word, 1 + (1 << 20));
    Atomics.store(i32, (data + 32) >>> 2, 0);
    c.inc({ v: 'c' });
    expect(c.seriesCount()).toBe(3);
    expect(Atomics.load(i32, word)).toBe(3);
    expectRejectedKeeping(state, () => other.inc({ v: 'd' }), CardinalityLimitError);
  });
});
