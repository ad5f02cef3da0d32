// A histogram observation on a thread's own stripe (its bucket, then its sum) is whole or
// absent in a thread terminated at any instant: every observation here is 1, so once the
// threads are gone the sum equals the count exactly. One registry serves every round, so
// each round's writers take over the stripes the writers of the round before left.
import { describe, expect, it } from 'vitest';
import { type HistogramValue, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { killRounds } from './helpers/workers.js';

const ROUNDS = 25;
const PER_ROUND = 4;

describe.each(BACKENDS)('histogram observations of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every observation whole`, async () => {
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    registry.histogram({ name: 'killed_seconds', help: 'h', buckets: [0.5, 2], striped: true });
    const read = (): HistogramValue => registry.collect().find((f) => f.name === 'killed_seconds')!.samples[0]!.value as HistogramValue;
    const { turns, broken } = await killRounds({
      rounds: ROUNDS,
      perRound: PER_ROUND,
      script: 'observe-kill.mjs',
      data: { handle: registry.handle, backend },
      maxTurns: 400,
      afterRound: () => {
        const v = read();
        return v.sum !== Number(v.count);
      },
    });
    const v = read();
    expect({ broken, sum: v.sum }).toEqual({ broken: 0, sum: Number(v.count) });
    // Every observation is 1: all in the middle bucket (le 2), none in le 0.5.
    expect(v.buckets.map((b) => b.count)).toEqual([0n, v.count, v.count]);
    expect(v.count).toBeGreaterThanOrEqual(BigInt(turns));
    expect(v.count).toBeLessThanOrEqual(BigInt(turns + ROUNDS * PER_ROUND));
  });
});
