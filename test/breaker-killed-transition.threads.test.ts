// A breaker's watchers are never left parked on a stale state by a thread terminated in
// the middle of a state change. A change is a compare-and-swap of the state word and then
// a notify; in JavaScript those are two calls, and V8 can stop a thread between them. A
// worker changes the state of many breakers back to back, each watched by this thread,
// and is terminated in the middle; every listener and iterator must then come to its
// breaker's state without any further change (a missed notify is seen at the watchers'
// backstop). 'auto' closes through the JS split of success; 'js' forces open; 'wasm',
// whose transitions are one call each, must hold all the same.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type CircuitBreaker, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

// A termination lands between a change and its notify in a few rounds in a hundred (about
// 6 in 100 with 'js' forcing open, measured; rarer elsewhere), so the unfixed watchers fail
// this test most runs, not every run.
const ROUNDS = 20;
const COUNT = 2000;

// Polls `check` on the event loop until it holds or `ms` pass; whether it held.
async function settles(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

describe.each(BACKENDS)('breaker watchers when a thread changing states is terminated (%s)', (backend) => {
  it.each(['closeBySuccess', 'force'])(`${ROUNDS} terminations in the middle of %s: listeners and iterators reach every state`, async (mode) => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 16 * 1024 * 1024 });
    let stuck = 0;
    let changed = 0;
    // One set of breakers, watched by this thread for the whole test; a worker per round.
    const prefix = `killed.${mode}`;
    const watched: { b: CircuitBreaker; heard: () => string; stop: () => Promise<void> }[] = [];
    for (let i = 0; i < COUNT; i++) {
      const b = registry.circuitBreaker(`${prefix}.${i}`, { timeoutMs: 1, successThreshold: 1 });
      let heard: string = b.state;
      const off = b.onStateChange(({ state }) => (heard = state));
      // An iterator on every tenth: the same watcher feeds both, and iterators cost more.
      let iterated: string | undefined;
      const ac = new AbortController();
      const iterating =
        i % 10 === 0
          ? (async () => {
              iterated = b.state;
              for await (const { state } of b.stateChanges({ signal: ac.signal })) iterated = state;
            })()
          : Promise.resolve();
      watched.push({
        b,
        heard: () => (iterated === undefined || heard === iterated ? heard : `${heard}/${iterated}`),
        stop: async () => {
          off();
          ac.abort();
          await iterating;
        },
      });
    }
    for (let round = 0; round < ROUNDS; round++) {
      const progress = new Int32Array(new SharedArrayBuffer(16));
      const w = new Worker(new URL('./workers/breaker-kill.mjs', import.meta.url), {
        workerData: { handle: registry.handle, backend, progress: progress.buffer, prefix, count: COUNT, mode },
      });
      const exited = new Promise((resolve) => w.once('exit', resolve));
      while (Atomics.load(progress, 0) === 0) await new Promise((r) => setTimeout(r, 1));
      // Each breaker HalfOpen with its probe taken, by this thread (the worker's code stays cold).
      for (const { b } of watched) b.forceOpen();
      await new Promise((r) => setTimeout(r, 3));
      for (const { b } of watched) if (!b.tryAcquire()) throw new Error('no probe');
      // Every watcher parked on the word it read; then go, and terminate in the middle.
      await new Promise((r) => setTimeout(r, 20));
      Atomics.store(progress, 1, 1);
      Atomics.notify(progress, 1);
      // Terminate once it is a random way into its changes (spinning: this thread's
      // watchers are parked, and the termination must land while it changes states).
      const target = 1 + Math.floor(Math.random() * 300);
      for (const t0 = performance.now(); Atomics.load(progress, 2) < target && performance.now() - t0 < 2_000; );
      void w.terminate();
      await exited;
      changed += Atomics.load(progress, 2);
      // No thread changes a state any more: every watcher must come to it (a lost notify
      // is made up for at the watchers' backstop, 1 s; 5 s only bounds the test).
      const ok = await settles(() => watched.every((x) => x.heard() === x.b.state), 5_000);
      if (!ok) stuck++;
    }
    await Promise.all(watched.map((x) => x.stop()));
    expect(changed).toBeGreaterThan(0);
    expect(stuck).toBe(0);
  }, 600_000);
});
