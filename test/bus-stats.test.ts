import { describe, expect, it } from 'vitest';
import { InvalidCountError, StatsRegistry, UnsafeIntegerError } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const ZERO_LIVE = { rust_subscriber_patterns: 0, rust_handler_count: 0, ffi_subscriber_count: 0 };

describe.each(BACKENDS)('EventBusStats and WorkerSubscriberStats (%s backend)', (backend) => {
  describe.each([true, false])('striped=%s', (striped) => {
    const bus = () => StatsRegistry.create({ backend }).eventBusStats('bus', { striped });
    const sub = () => StatsRegistry.create({ backend }).workerSubscriberStats('sub', { striped });

    it('each bus record method touches exactly its own fields', () => {
      const s = bus();
      s.recordDispatch();
      s.recordDispatch();
      s.recordHandlerDispatch(3);
      s.recordHandlerDispatch();
      s.recordBroadcastDispatch();
      s.recordBroadcastDrop();
      s.recordBroadcastDrop();
      s.recordBroadcastDrop();
      s.recordBroadcastLagged(7);
      s.recordHandlerShed(4);
      expect(s.snapshot({ rust_subscriber_patterns: 1, rust_handler_count: 2, ffi_subscriber_count: 3 })).toEqual({
        total_events_dispatched: 2,
        rust_handler_dispatches: 2,
        ffi_channel_dispatches: 1,
        rust_handler_errors: 3,
        ffi_channel_drops: 3,
        ffi_channel_lagged: 7,
        rust_handler_shed: 4,
        rust_subscriber_patterns: 1,
        rust_handler_count: 2,
        ffi_subscriber_count: 3,
      });
    });

    it('the whole-publish record path matches the single methods field by field', () => {
      const s = bus();
      s.recordPublish(0, 0, 0); // no handlers, no receiver: drop
      s.recordPublish(1, 2, 0); // handlers with 2 errors, drop
      s.recordPublish(3, 0, 5); // handlers, delivered, 5 lagged
      s.recordPublish(2, 0, 0); // delivered
      expect(s.snapshot()).toEqual({
        total_events_dispatched: 4,
        rust_handler_dispatches: 2,
        ffi_channel_dispatches: 2,
        rust_handler_errors: 2,
        ffi_channel_drops: 2,
        ffi_channel_lagged: 5,
        rust_handler_shed: 0,
        ...ZERO_LIVE,
      });
    });

    it('snapshot keys are exactly the spec keys (plus ffi_channel_lagged and rust_handler_shed), in order', () => {
      expect(Object.keys(bus().snapshot())).toEqual([
        'total_events_dispatched',
        'rust_handler_dispatches',
        'ffi_channel_dispatches',
        'rust_handler_errors',
        'ffi_channel_drops',
        'ffi_channel_lagged',
        'rust_handler_shed',
        'rust_subscriber_patterns',
        'rust_handler_count',
        'ffi_subscriber_count',
      ]);
    });

    it('a counter above 2^53 - 1: the number snapshot throws UnsafeIntegerError, the BigInt one is exact', () => {
      const s = bus();
      s.recordHandlerDispatch(Number.MAX_SAFE_INTEGER);
      expect(s.snapshot().rust_handler_errors).toBe(Number.MAX_SAFE_INTEGER);
      s.recordHandlerDispatch(1);
      expect(() => s.snapshot()).toThrow(UnsafeIntegerError);
      expect(s.snapshotBigInt().rust_handler_errors).toBe(2n ** 53n);
      expect(s.snapshotBigInt().rust_handler_dispatches).toBe(2n);
    });

    it('counts wrap modulo 2^64 like a u64 fetch_add', () => {
      const s = bus();
      for (let i = 0; i < 2048; i++) s.recordBroadcastLagged(Number.MAX_SAFE_INTEGER);
      // 2048 * (2^53 - 1) = 2^64 - 2048
      expect(s.snapshotBigInt().ffi_channel_lagged).toBe(2n ** 64n - 2048n);
      s.recordBroadcastLagged(2049);
      expect(s.snapshotBigInt().ffi_channel_lagged).toBe(1n);
    });

    it.each([-1, 0.5, Number.NaN, '1', 2 ** 53, null, 3n])('bad counts (%s) throw InvalidCountError and change nothing', (bad) => {
      const s = bus();
      s.recordHandlerDispatch(1);
      s.recordBroadcastLagged(2);
      const before = s.snapshotBigInt();
      expect(() => s.recordHandlerDispatch(bad as number)).toThrow(InvalidCountError);
      expect(() => s.recordBroadcastLagged(bad as number)).toThrow(InvalidCountError);
      expect(() => s.snapshot({ rust_handler_count: bad as number })).toThrow(InvalidCountError);
      expect(s.snapshotBigInt()).toEqual(before);
    });

    it('subscriber record methods touch exactly their fields', () => {
      const s = sub();
      s.recordCompletion(true);
      s.recordCompletion(true);
      s.recordCompletion(false);
      s.recordConversionError();
      s.recordUnmatchedCorrelation();
      s.recordUnmatchedCorrelation();
      expect(s.snapshot('w-1')).toEqual({
        worker_id: 'w-1',
        completions_received: 3,
        successful_completions: 2,
        failed_completions: 1,
        conversion_errors: 1,
        unmatched_correlations: 2,
      });
      s.recordOutcome(1 | 2 | 4);
      s.recordOutcome(0);
      expect(s.snapshotBigInt('w-1')).toEqual({
        worker_id: 'w-1',
        completions_received: 5n,
        successful_completions: 3n,
        failed_completions: 2n,
        conversion_errors: 2n,
        unmatched_correlations: 3n,
      });
    });
  });

  it('plain publishes (one outcome cell each) fold into the DTO exactly, across the 2^24 carry of every outcome cell', () => {
    for (const striped of [true, false]) {
      const r = StatsRegistry.create({ backend });
      const bus = r.eventBusStats(`outcomes-${striped}`, { striped });
      const n = 2 ** 24 + 3;
      // flags: PUB_HANDLED = 1 (handlers ran), PUB_BROADCAST = 2 (a receiver got it)
      for (let flags = 0; flags < 4; flags++) for (let i = 0; i < n; i++) bus.countPublish(flags);
      // and the other record paths, which write the DTO's own cells, on top
      bus.recordPublish(3, 2, 5);
      bus.recordDispatch();
      bus.recordBroadcastDrop();
      expect(bus.snapshotBigInt()).toEqual({
        total_events_dispatched: BigInt(4 * n + 2),
        rust_handler_dispatches: BigInt(2 * n + 1),
        ffi_channel_dispatches: BigInt(2 * n + 1),
        rust_handler_errors: 2n,
        ffi_channel_drops: BigInt(2 * n + 1),
        ffi_channel_lagged: 5n,
        rust_handler_shed: 0n,
        rust_subscriber_patterns: 0,
        rust_handler_count: 0,
        ffi_subscriber_count: 0,
      });
      expect(bus.snapshot().total_events_dispatched).toBe(4 * n + 2);
      // Any thread's read folds the same cells: a second attachment on another backend agrees.
      const other = StatsRegistry.attach(r.handle, { backend: backend === 'js' ? 'wasm' : 'js' });
      expect(other.eventBusStats(`outcomes-${striped}`, { striped }).snapshotBigInt()).toEqual(bus.snapshotBigInt());
    }
  });

  it('counts across the 2^24 boundary of an owned low word (the carry into the high word) stay exact', () => {
    const r = StatsRegistry.create({ backend });
    const bus = r.eventBusStats('carry-bus');
    const sub = r.workerSubscriberStats('carry-sub');
    const step = r.stepExecutionStats('carry-step');
    const n = 2 ** 24 + 3;
    for (let i = 0; i < n; i++) {
      bus.recordPublish(1, 0, 0);
      sub.recordCompletion(true);
      step.recordSuccess(1);
    }
    expect(bus.snapshot()).toMatchObject({ total_events_dispatched: n, rust_handler_dispatches: n, ffi_channel_drops: n, ffi_channel_dispatches: 0 });
    expect(sub.snapshot()).toMatchObject({ completions_received: n, successful_completions: n, failed_completions: 0 });
    expect(step.snapshot()).toEqual({ total_executed: n, total_succeeded: n, total_failed: 0, average_execution_time_ms: 1 });
  });
});
