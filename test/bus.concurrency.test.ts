// One bus per worker thread on a shared stats name, all publishing at once: exact totals.
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS, runWorkers } from './helpers/workers.js';

const THREADS = 4;
const N = 100_000;

describe.each(BACKENDS)('event bus from %s threads', (backend) => {
  const CAPACITY = 1000;
  it.each([
    { handlers: false, receivers: false },
    { handlers: true, receivers: false },
    { handlers: false, receivers: true },
    { handlers: true, receivers: true },
  ])('4 buses on one name x 100,000 publishes, %o: exact totals and the dispatch invariant', async ({ handlers, receivers }) => {
    const registry = StatsRegistry.create({ backend });
    const results = await runWorkers<{ seen: number; asyncResults: number; buffered: number }>('bus-stress.mjs', THREADS, () => ({
      handle: registry.handle,
      backend,
      name: 'bus',
      n: N,
      handlers,
      receivers,
      capacity: CAPACITY,
    }));
    const total = THREADS * N;
    for (const r of results) {
      expect(r.asyncResults).toBe(0);
      expect(r.seen).toBe(handlers ? N : 0);
      expect(r.buffered).toBe(receivers ? CAPACITY : 0);
    }
    const s = registry.eventBusStats('bus').snapshot();
    expect(s).toEqual({
      total_events_dispatched: total,
      rust_handler_dispatches: handlers ? total : 0,
      rust_handler_errors: handlers ? THREADS * (N / 10) : 0,
      ffi_channel_dispatches: receivers ? total : 0,
      ffi_channel_drops: receivers ? 0 : total,
      ffi_channel_lagged: receivers ? THREADS * (N - CAPACITY) : 0,
      rust_handler_shed: 0,
      rust_subscriber_patterns: 0,
      rust_handler_count: 0,
      ffi_subscriber_count: 0,
    });
    expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);
  });
});
