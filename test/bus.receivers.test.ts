import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BroadcastReceiver, InProcessEventBus, InvalidHandleError, ReceiverClosedError, StatsRegistry, type DomainEvent } from '../src/index.js';
import { testEvent } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

const ids = (events: (DomainEvent | undefined)[]) => events.map((e) => e?.payload);

describe.each(BACKENDS)('broadcast receivers in the bus thread (%s backend)', (backend) => {
  const newBus = (broadcastBufferSize = 1000) =>
    new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus', broadcastBufferSize });

  it('see only events published after they subscribed, in order', async () => {
    const bus = newBus();
    bus.publish(testEvent('e', 0));
    const rx = bus.subscribeBroadcast();
    bus.publish(testEvent('e', 1));
    bus.publish(testEvent('e', 2));
    expect(rx.size).toBe(2);
    expect(ids([rx.tryReceive(), rx.tryReceive(), rx.tryReceive()])).toEqual([1, 2, undefined]);
  });

  it('a lagging receiver loses the oldest events and they are counted', () => {
    const bus = newBus(3);
    const slow = bus.subscribeBroadcast();
    const fast = bus.subscribeBroadcast();
    for (let i = 0; i < 5; i++) {
      bus.publish(testEvent('e', i));
      fast.tryReceive();
    }
    expect(bus.getStatistics().ffi_channel_lagged).toBe(2);
    expect(ids([slow.tryReceive(), slow.tryReceive(), slow.tryReceive(), slow.tryReceive()])).toEqual([2, 3, 4, undefined]);
    bus.publish(testEvent('e', 5));
    expect(bus.getStatistics().ffi_channel_lagged).toBe(2);
    expect(bus.getStatistics().ffi_channel_dispatches).toBe(6);
  });

  it('next() waits for the next publish; for await reads in order; break closes the receiver', async () => {
    const bus = newBus();
    const rx = bus.subscribeBroadcast();
    const first = rx.next();
    bus.publish(testEvent('e', 'a'));
    expect((await first).value?.payload).toBe('a');
    bus.publish(testEvent('e', 'b'));
    bus.publish(testEvent('e', 'c'));
    const seen: unknown[] = [];
    for await (const e of rx) {
      seen.push(e.payload);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['b', 'c']);
    expect(rx.closed).toBe(true);
    expect(bus.getStatistics().ffi_subscriber_count).toBe(0);
  });

  it('close() ends pending next() calls, stops counting, and later publishes are drops', async () => {
    const bus = newBus();
    const rx = bus.subscribeBroadcast();
    expect(bus.getStatistics().ffi_subscriber_count).toBe(1);
    const waiting = rx.next();
    rx.close();
    rx.close();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(await rx.next()).toEqual({ value: undefined, done: true });
    bus.publish(testEvent('e'));
    const s = bus.getStatistics();
    expect([s.ffi_subscriber_count, s.ffi_channel_drops, s.ffi_channel_dispatches]).toEqual([0, 1, 0]);
    expect(() => rx.transfer()).toThrow(ReceiverClosedError);
  });

  it('a receiver dropped without close() is closed when garbage-collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const bus = newBus();
    (() => void bus.subscribeBroadcast())();
    expect(bus.receiverCount).toBe(1);
    for (let i = 0; i < 50 && bus.receiverCount > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(bus.receiverCount).toBe(0);
  });

  it('fromHandle rejects values that are not receiver handles', () => {
    expect(() => BroadcastReceiver.fromHandle({} as never)).toThrow(InvalidHandleError);
    expect(() => BroadcastReceiver.fromHandle(null as never)).toThrow(InvalidHandleError);
    expect(() =>
      BroadcastReceiver.fromHandle({ type: 'atomic-stats/broadcast-receiver', port: undefined, control: new SharedArrayBuffer(16), buffered: [] } as never),
    ).toThrow(/transfer list/);
  });
});

describe('broadcast receivers handed to another worker thread', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
  });

  async function receiverInWorker(bus: InProcessEventBus) {
    const handle = bus.subscribeBroadcast().transfer();
    const w = new Worker(new URL('./workers/receiver-worker.mjs', import.meta.url), { workerData: { handle }, transferList: [handle.port] });
    workers.push(w);
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    const ask = <T>(m: unknown) =>
      new Promise<T>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.postMessage(m);
      });
    return { w, ask };
  }

  it.each(BACKENDS)('receives events as structured clones (%s backend)', async (backend) => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus' });
    const { ask } = await receiverInWorker(bus);
    expect(bus.getStatistics().ffi_subscriber_count).toBe(1);
    const sent = [testEvent('order.created', { amount: 5, tags: ['a'], when: new Date(0) }), testEvent('order.paid', { nested: { ok: true } })];
    for (const e of sent) bus.publish(e);
    const { events } = await ask<{ events: DomainEvent[] }>({ cmd: 'read', n: 2 });
    expect(events).toEqual(sent);
    expect(events[0]).not.toBe(sent[0]);
    expect(bus.getStatistics().ffi_channel_dispatches).toBe(2);
  });

  it('a receiver closed in the other thread stops counting as soon as close() returns there', async () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus' });
    const { ask } = await receiverInWorker(bus);
    expect(bus.getStatistics().ffi_subscriber_count).toBe(1);
    await ask({ cmd: 'close' });
    expect(bus.getStatistics().ffi_subscriber_count).toBe(0);
    bus.publish(testEvent('e'));
    expect(bus.getStatistics().ffi_channel_drops).toBe(1);
  });

  it('a receiver whose thread died stops counting (after the port close event reaches the bus thread)', async () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus' });
    const { w, ask } = await receiverInWorker(bus);
    await ask({ cmd: 'idle' });
    expect(bus.getStatistics().ffi_subscriber_count).toBe(1);
    await w.terminate();
    while (bus.getStatistics().ffi_subscriber_count !== 0) await new Promise((r) => setTimeout(r, 5));
    bus.publish(testEvent('e'));
    expect(bus.getStatistics()).toMatchObject({ ffi_subscriber_count: 0, ffi_channel_drops: 1 });
  });

  it('a lagging remote receiver loses exactly the oldest events, even ones already in its thread', async () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus', broadcastBufferSize: 3 });
    const { ask } = await receiverInWorker(bus);
    for (let i = 0; i < 3; i++) bus.publish(testEvent('e', i));
    await ask({ cmd: 'wait-size', n: 3 }); // 0, 1, 2 are now in the worker, unread
    for (let i = 3; i < 5; i++) bus.publish(testEvent('e', i));
    expect(bus.getStatistics().ffi_channel_lagged).toBe(2);
    const { events } = await ask<{ events: DomainEvent[] }>({ cmd: 'read', n: 3 });
    expect(ids(events)).toEqual([2, 3, 4]);
    // Beyond the capacity within one synchronous run: expired before they are even posted.
    for (let i = 5; i < 15; i++) bus.publish(testEvent('e', i));
    expect(bus.getStatistics().ffi_channel_lagged).toBe(9);
    const more = await ask<{ events: DomainEvent[] }>({ cmd: 'read', n: 3 });
    expect(ids(more.events)).toEqual([12, 13, 14]);
  });

  it('events buffered before the transfer are delivered first, none lost or duplicated', async () => {
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus' });
    const rx = bus.subscribeBroadcast();
    bus.publish(testEvent('e', 0));
    bus.publish(testEvent('e', 1));
    expect(rx.tryReceive()?.payload).toBe(0);
    const handle = rx.transfer();
    expect(rx.closed).toBe(true);
    expect(bus.getStatistics().ffi_subscriber_count).toBe(1);
    bus.publish(testEvent('e', 2));
    const w = new Worker(new URL('./workers/receiver-worker.mjs', import.meta.url), { workerData: { handle }, transferList: [handle.port] });
    workers.push(w);
    await new Promise((r) => w.once('message', r));
    bus.publish(testEvent('e', 3));
    const got = await new Promise<{ events: DomainEvent[] }>((resolve) => {
      w.once('message', resolve);
      w.postMessage({ cmd: 'read', n: 3 });
    });
    expect(ids(got.events)).toEqual([1, 2, 3]);
    expect(bus.getStatistics().ffi_channel_lagged).toBe(0);
  });
});
