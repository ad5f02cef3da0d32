// A publish is counted whole or not at all, in a thread terminated at any instant:
// workers publishing through buses with asynchronous handlers and with a failing
// synchronous one (test/workers/bus-kill.mjs) are terminated at random points, often while
// some of their publishes await handlers, often while a publish is being recorded, and the
// bus's identities must hold exactly afterwards. A publish counted in two steps (the event
// when it started waiting, its handler and broadcast steps when it completed) left the
// event counted without its dispatch or drop, for good, whenever its thread was terminated
// in between; so did a record of several atomic adds (a thread without a stripe on 'js')
// terminated between two of them.
//
// One registry serves every round, with fewer stripes than threads: each round's workers
// take over the stripes the previous round's left, and half the workers of each round have
// none (they record into the shared cells).
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { killRounds } from './helpers/workers.js';

const ROUNDS = 20;
const PER_ROUND = 6;

describe.each(BACKENDS)('event bus publishes of terminated threads (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} publishers terminated at random points leave every publish counted whole or not at all`, async () => {
    // 4 stripes: the creator's and three writers'; the other three writers have none.
    const registry = StatsRegistry.create({ backend, stripes: 4 });
    const stats = registry.eventBusStats('killed.bus');
    const { turns: batches, broken } = await killRounds({
      rounds: ROUNDS,
      perRound: PER_ROUND,
      script: 'bus-kill.mjs',
      data: { handle: registry.handle, backend },
      // Wait until it publishes, then a few batches more (a different number each time),
      // then a moment more, so that the termination lands anywhere in a batch.
      maxTurns: 10,
      spinMs: 3,
      // Rounds after which an identity no longer holds (a publish counted in part stays so).
      afterRound: () => {
        const s = stats.snapshotBigInt();
        return s.total_events_dispatched !== s.ffi_channel_dispatches + s.ffi_channel_drops || s.total_events_dispatched !== s.rust_handler_dispatches;
      },
    });
    const s = stats.snapshotBigInt();
    registry.close();
    expect(broken).toBe(0);
    // The workers did publish (at least every completed batch of 4 is counted), through
    // both kinds of broadcast step and with failing handlers...
    expect(s.total_events_dispatched).toBeGreaterThanOrEqual(4n * BigInt(batches));
    expect(s.ffi_channel_dispatches).toBeGreaterThan(0n);
    expect(s.ffi_channel_drops).toBeGreaterThan(0n);
    expect(s.rust_handler_errors).toBeGreaterThan(0n);
    // ...and every publish counted is counted whole.
    expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);
    expect(s.total_events_dispatched).toBe(s.rust_handler_dispatches);
  }, 120_000);
});
