// A record of a stats struct is whole or absent in a thread terminated at any instant:
// a worker recording in a loop is terminated at random points, early (interpreted and
// baseline code, where every call is a real call and a point where V8 can act on the
// termination), and the struct's own identities must hold exactly afterwards. A record
// that made a call between two of its cells could be cut in half there. The one call a
// record may need is a carry into a cell's high word (once per 2^24 units of the cell):
// each step here adds 2^20 ms, so the time cell carries every 16 successes, and one
// registry serves every round, so each round's writers take over the stripes of the
// writers terminated in the round before, cells (and carries in flight) as they left them.
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { killRounds } from './helpers/workers.js';

const ROUNDS = 25;
const PER_ROUND = 4;
// 2^20: the time cell carries every 16 successes. Before records checked every cell
// before storing any, most rounds lost the time of one success (a writer stopped at the
// carry's call, with executed and succeeded already stored).
const MS = 1 << 20;

describe.each(BACKENDS)('stats records of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every record whole`, async () => {
    // 8 stripes: the creator's and one per writer of a round; the rest stay free.
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    const steps = registry.stepExecutionStats('killed.steps');
    const subs = registry.workerSubscriberStats('killed.subs');
    const { turns, broken } = await killRounds({
      rounds: ROUNDS,
      perRound: PER_ROUND,
      script: 'stats-kill.mjs',
      data: { handle: registry.handle, backend, ms: MS },
      // Wait until it records, then give it a few more turns, a different number each time.
      maxTurns: 400,
      // Rounds after which an identity no longer holds (a cut record stays cut).
      afterRound: () => {
        const s = steps.snapshotBigInt();
        return s.total_executed !== s.total_succeeded + s.total_failed || steps.totalExecutionTimeMs() !== BigInt(MS) * s.total_succeeded;
      },
    });
    const s = steps.snapshotBigInt();
    const c = subs.snapshotBigInt();
    const totals = {
      executed: s.total_executed,
      succeeded: s.total_succeeded,
      failed: s.total_failed,
      time: steps.totalExecutionTimeMs(),
      received: c.completions_received,
      successful: c.successful_completions,
      failedC: c.failed_completions,
      conversion: c.conversion_errors,
      unmatched: c.unmatched_correlations,
    };
    registry.close();
    // The time cell carried (2^24 units of it per carry) many times.
    expect(totals.time).toBeGreaterThan(BigInt(ROUNDS * PER_ROUND) << 24n);
    expect(broken).toBe(0);
    // The writers did run (at least every finished turn is counted)...
    expect(totals.failed).toBeGreaterThanOrEqual(BigInt(turns));
    expect(totals.received).toBeGreaterThanOrEqual(BigInt(turns));
    // ...and no record was cut: each identity holds exactly.
    expect(totals.executed).toBe(totals.succeeded + totals.failed);
    expect(totals.time).toBe(BigInt(MS) * totals.succeeded);
    expect(totals.received).toBe(totals.successful + totals.failedC);
    expect(totals.successful).toBe(0n);
    expect(totals.conversion).toBe(totals.received);
    expect(totals.unmatched).toBe(totals.received);
  }, 120_000);
});
