// Thread churn: owned stripes are handed back when their holder ends (close, dispose,
// normal exit, termination seen by the creating thread) and taken over, counts intact.
import { Worker, threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import {
  AtomicStatsError,
  InProcessEventBus,
  InvalidHandleError,
  RegistryClosedError,
  StatsRegistry,
  type BackendKind,
  type RegistryHandle,
} from '../src/index.js';
import { breakerGeometry } from '../src/ops/breaker-layout.js';
import { releaseThread } from '../src/slots.js';
import { H_SLOT_COUNT, H_SLOT_TABLE, cellAddresses, setGeometry, type SetGeometry } from '../src/layout.js';
import { BACKENDS } from './helpers/backends.js';
import { testEvent } from './helpers/bus.js';

const STEP = 16777217n; // 2^24 + 1: the spinning workers' add, one carry each
const SCRIPT = new URL('./workers/churn-worker.mjs', import.meta.url);

// ---- reading cells directly -----------------------------------------------------------

function dataOffsetOf(r: StatsRegistry, name: string): number {
  const rec = r.checkedRecords().find((x) => x.name === name);
  if (rec === undefined) throw new Error(`no entry ${name}`);
  return rec.dataOffset;
}

/** The value of field `index`'s owned cell in `stripe`, decoded as a reader does. */
function ownedCell(r: StatsRegistry, g: SetGeometry, dataOffset: number, index: number, stripe: number): bigint {
  const a = cellAddresses(g, dataOffset, index, stripe);
  const high = new BigUint64Array(r.views.u8.buffer)[a.high >>> 3]!;
  const w = new Uint32Array(r.views.u8.buffer)[a.low >>> 2]!;
  const d = BigInt((((w >>> 24) - Number(high & 0xffn) + 128) & 0xff) - 128);
  return ((high + d) << 24n) + BigInt(w & 0xffffff);
}

function sharedCell(r: StatsRegistry, g: SetGeometry, dataOffset: number, index: number): bigint {
  return new BigUint64Array(r.views.u8.buffer)[cellAddresses(g, dataOffset, index, 0).shared >>> 3]!;
}

function setCells(r: StatsRegistry, name: string, fields: number) {
  const g = setGeometry(fields, true, r.stripes);
  const at = dataOffsetOf(r, name);
  return { owned: (stripe: number, i = 0) => ownedCell(r, g, at, i, stripe), shared: (i = 0) => sharedCell(r, g, at, i) };
}

// ---- threads ----------------------------------------------------------------------------

interface Report {
  slot?: number;
  stripes?: number;
  threadId?: number;
  closedSlot?: number;
  childExit?: number;
  slotsInUse?: number;
  childSlot?: number;
  before?: number;
  after?: number;
  error?: string;
}

/** A worker on churn-worker.mjs, with its messages queued for `next()`. */
function start(workerData: Record<string, unknown>) {
  const worker = new Worker(SCRIPT, { workerData });
  const queue: Report[] = [];
  const waiting: ((m: Report) => void)[] = [];
  worker.on('message', (m: Report) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  return {
    worker,
    exited,
    next(): Promise<Report> {
      const m = queue.shift();
      return Promise.race([m ? Promise.resolve(m) : new Promise<Report>((resolve) => waiting.push(resolve)), failed]);
    },
  };
}

/** Polls `cond` until it holds (the slot hooks run on other threads' events). */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const backendOf = (i: number): BackendKind => BACKENDS[i % 2]!;

// ---- one thread ---------------------------------------------------------------------------

describe.each(BACKENDS)('slots in one thread (%s)', (backend) => {
  it('hands out the lowest free stripe, numbers attachments without one from `stripes` up, and reuses closed ones', () => {
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    const b = StatsRegistry.attach(r.handle, { backend });
    const c = StatsRegistry.attach(r.handle, { backend });
    expect([r.slot, a.slot, b.slot, c.slot]).toEqual([0, 1, 2, 3]);
    expect(r.usage()).toMatchObject({ stripes: 2, slotsInUse: 2, attachments: 4, attachmentsWithoutStripe: 2 });
    a.close();
    expect(a.slot).toBe(-1);
    expect(a.closed).toBe(true);
    expect(r.usage()).toMatchObject({ slotsInUse: 1 });
    const d = StatsRegistry.attach(r.handle, { backend });
    expect(d.slot).toBe(1);
    // b stays where it was: an attachment without a stripe keeps the shared stripe for life.
    expect(b.slot).toBe(2);
    expect(r.usage()).toMatchObject({ slotsInUse: 2, attachments: 5, attachmentsWithoutStripe: 2 });
    d[Symbol.dispose]();
    expect(d.slot).toBe(-1);
    expect(r.usage()).toMatchObject({ slotsInUse: 1 });
  });

  it('the next holder of a stripe takes it over with its counts intact', () => {
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    expect(a.slot).toBe(1);
    const ca = a.counters('jobs', ['n', 'm'], { striped: true });
    ca.counter('n').add(1000);
    ca.counter('m').add(0xffffff); // one below a carry
    const cells = setCells(r, 'jobs', 2);
    a.close();
    const b = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    expect(b.slot).toBe(1);
    const cb = b.counters('jobs', ['n', 'm'], { striped: true });
    cb.counter('n').add(5);
    cb.counter('m').inc(); // the carry, by the new holder
    expect(cells.owned(1, 0)).toBe(1005n);
    expect(cells.owned(1, 1)).toBe(0x1000000n);
    expect(cells.shared(0)).toBe(0n);
    expect(cells.shared(1)).toBe(0n);
    expect(r.counters('jobs', ['n', 'm'], { striped: true }).snapshot()).toEqual({ n: 1005, m: 0x1000000 });
  });

  it('a holder killed between the two stores of a carry leaves a cell the next holder continues exactly', () => {
    // What a thread terminated inside the carry leaves: the high word already stepped
    // (here by 3, as one add of 3 * 2^24 + 5 does), the low word still tagged with the old high.
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    const n = a.counters('c', ['n'], { striped: true }).counter('n');
    n.add(0xfffff0);
    const cells = setCells(r, 'c', 1);
    const g = setGeometry(1, true, 2);
    const high = cellAddresses(g, dataOffsetOf(r, 'c'), 0, 1).high >>> 3;
    new BigUint64Array(r.views.u8.buffer)[high] = 3n;
    expect(n.valueBigInt()).toBe(0xfffff0n); // readers place the low word by its tag
    a.close();
    const b = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    expect(b.slot).toBe(1);
    const m = b.counters('c', ['n'], { striped: true }).counter('n');
    m.add(0x10); // exactly through a carry: 0xfffff0 + 0x10 = 2^24
    expect(m.valueBigInt()).toBe(0x1000000n);
    m.add(0x2000001); // and another, two steps at once
    expect(m.valueBigInt()).toBe(0x3000001n);
    for (let i = 0; i < 0xfffff; i++) m.inc();
    expect(m.valueBigInt()).toBe(0x3000001n + 0xfffffn);
    expect(cells.owned(1)).toBe(0x3000001n + 0xfffffn);
    expect(cells.shared()).toBe(0n);
  });

  it('after close every handle keeps counting, on the shared stripe, and the stripe is left as it was', () => {
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    const set = a.counters('set', ['n'], { striped: true });
    const n = set.counter('n');
    const steps = a.stepExecutionStats('steps');
    const subs = a.workerSubscriberStats('subs');
    const breaker = a.circuitBreaker('db');
    const clocked = a.circuitBreaker('db', undefined, { clock: () => 0 });
    const bus = new InProcessEventBus({ registry: a, name: 'bus' });
    // With a handler, publish() stores its outcome cell inline from fields of its own.
    const busH = new InProcessEventBus({ registry: a, name: 'busH' });
    busH.subscribe('*', () => {});
    const record = () => {
      n.inc();
      n.add(2);
      steps.recordSuccess(5);
      steps.recordFailure();
      subs.recordCompletion(true);
      breaker.recordSuccess(10);
      clocked.recordFailure(10);
      bus.publish(testEvent('x'));
      busH.publish(testEvent('x'));
    };
    record();
    const ownedBefore = {
      set: setCells(r, 'set', 1).owned(1),
      steps: setCells(r, 'steps', 4).owned(1),
      subs: setCells(r, 'subs', 5).owned(1),
      // A plain publish (no handler, no receiver) is one add to the bus's outcome cell 7.
      bus: setCells(r, 'bus', 11).owned(1, 7),
      // With a handler and no receiver: outcome cell 7 + PUB_HANDLED.
      busH: setCells(r, 'busH', 11).owned(1, 8),
    };
    expect(ownedBefore).toEqual({ set: 3n, steps: 2n, subs: 1n, bus: 1n, busH: 1n });
    a.close();
    record();
    // The owned cells are as the close left them; the second round is in the shared cells.
    expect(setCells(r, 'set', 1).owned(1)).toBe(3n);
    expect(setCells(r, 'set', 1).shared()).toBe(3n);
    expect(setCells(r, 'steps', 4).owned(1)).toBe(2n);
    expect(setCells(r, 'steps', 4).shared(0)).toBe(2n);
    expect(setCells(r, 'steps', 4).shared(3)).toBe(5n);
    expect(setCells(r, 'subs', 5).shared(0)).toBe(1n);
    expect(setCells(r, 'bus', 11).owned(1, 7)).toBe(1n);
    expect(setCells(r, 'bus', 11).shared(7)).toBe(1n);
    expect(setCells(r, 'busH', 11).owned(1, 8)).toBe(1n);
    expect(setCells(r, 'busH', 11).shared(8)).toBe(1n);
    const bg = breakerGeometry(r.stripes, false);
    const bAt = dataOffsetOf(r, 'db') + bg.countersOffset;
    expect(ownedCell(r, bg.counters, bAt, 0, 1)).toBe(2n); // total_calls, before the close
    expect(sharedCell(r, bg.counters, bAt, 0)).toBe(2n); // and after it
    // Totals from another thread's view: every record of both rounds, exactly.
    expect(r.counters('set', ['n'], { striped: true }).snapshot()).toEqual({ n: 6 });
    expect(r.stepExecutionStats('steps').snapshot()).toMatchObject({ total_executed: 4, total_succeeded: 2, total_failed: 2 });
    expect(r.workerSubscriberStats('subs').snapshot()).toMatchObject({ completions_received: 2, successful_completions: 2 });
    expect(r.circuitBreaker('db').metrics()).toMatchObject({ total_calls: 4, success_count: 2, failure_count: 2 });
    expect(r.eventBusStats('bus').snapshot()).toMatchObject({ total_events_dispatched: 2 });
    expect(r.eventBusStats('busH').snapshot()).toMatchObject({ total_events_dispatched: 2, rust_handler_dispatches: 2, ffi_channel_drops: 2 });
    // The next holder of stripe 1 writes on top of what `a` left there.
    const b = StatsRegistry.attach(r.handle, { backend });
    expect(b.slot).toBe(1);
    b.counters('set', ['n'], { striped: true }).counter('n').add(10);
    expect(setCells(r, 'set', 1).owned(1)).toBe(13n);
    expect(r.counters('set', ['n'], { striped: true }).snapshot()).toEqual({ n: 16 });
  });

  it('a closed registry object refuses every method with RegistryClosedError and changes nothing', () => {
    const r = StatsRegistry.create({ stripes: 4, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    a.counters('kept', ['n'], { striped: true }).counter('n').add(3);
    a.close();
    const state = () => ({ entries: r.entries(), usage: r.usage(), kept: r.counters('kept', ['n'], { striped: true }).snapshotBigInt() });
    const before = state();
    const calls: [string, () => unknown][] = [
      ['counters (known)', () => a.counters('kept', ['n'], { striped: true })],
      ['counters (new)', () => a.counters('new', ['n'])],
      ['stepExecutionStats', () => a.stepExecutionStats('s')],
      ['eventBusStats', () => a.eventBusStats('b')],
      ['workerSubscriberStats', () => a.workerSubscriberStats('w')],
      ['circuitBreaker', () => a.circuitBreaker('cb')],
      ['collect', () => a.collect()],
      ['entries', () => a.entries()],
      ['usage', () => a.usage()],
      ['handle', () => a.handle],
      ['a bus on it', () => new InProcessEventBus({ registry: a, name: 'bus' })],
    ];
    for (const [what, call] of calls) {
      let caught: unknown;
      try {
        call();
      } catch (e) {
        caught = e;
      }
      expect(caught, what).toBeInstanceOf(RegistryClosedError);
      expect(caught, what).toBeInstanceOf(AtomicStatsError);
      expect((caught as AtomicStatsError).code, what).toBe('ERR_REGISTRY_CLOSED');
    }
    expect(state()).toEqual(before);
    // close and dispose again: nothing more happens (the stripe is not released twice).
    const b = StatsRegistry.attach(r.handle, { backend });
    expect(b.slot).toBe(1);
    a.close();
    a[Symbol.dispose]();
    expect(r.usage().slotsInUse).toBe(2);
    expect(StatsRegistry.attach(r.handle, { backend }).slot).toBe(2);
  });

  it('two registry objects in one thread each hold their own stripe; closing one leaves the other owning', () => {
    const r = StatsRegistry.create({ stripes: 4, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    const b = StatsRegistry.attach(r.handle, { backend });
    const na = a.counters('c', ['n'], { striped: true }).counter('n');
    const nb = b.counters('c', ['n'], { striped: true }).counter('n');
    a.close();
    na.inc();
    nb.add(4);
    const cells = setCells(r, 'c', 1);
    expect(cells.owned(1)).toBe(0n);
    expect(cells.owned(2)).toBe(4n);
    expect(cells.shared()).toBe(1n);
  });

  it('collect() reports the stripes, the stripes in use and the attachments', () => {
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    StatsRegistry.attach(r.handle, { backend });
    a.close();
    const byName = new Map(r.collect().map((f) => [f.name, f]));
    expect(byName.get('atomic_stats_registry_stripes')).toMatchObject({ type: 'gauge', samples: [{ labels: {}, value: 2 }] });
    expect(byName.get('atomic_stats_registry_stripes_in_use')).toMatchObject({ type: 'gauge', samples: [{ labels: {}, value: 1 }] });
    expect(byName.get('atomic_stats_registry_attachments_total')).toMatchObject({ type: 'counter', samples: [{ labels: {}, value: 3n }] });
    expect(byName.get('atomic_stats_registry_attachments_without_stripe_total')).toMatchObject({ type: 'counter', samples: [{ labels: {}, value: 1n }] });
  });

  it('attach refuses a memory whose stripe-slot table is out of place, changing nothing', () => {
    const r = StatsRegistry.create({ stripes: 4, backend, capacityBytes: 65536 });
    const copy = (patch: (i32: Int32Array) => void): RegistryHandle => {
      const h = r.handle;
      const pages = h.memory.buffer.byteLength / 65536;
      const m = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      new Uint8Array(m.buffer).set(new Uint8Array(h.memory.buffer));
      patch(new Int32Array(m.buffer));
      return { ...h, memory: m };
    };
    const bad: [string, (i32: Int32Array) => void][] = [
      ['a table count unlike the stripes', (i32) => (i32[H_SLOT_COUNT] = 8)],
      ['a table past the end', (i32) => (i32[H_SLOT_TABLE] = r.capacityBytes - 64)],
      ['a table over the records', (i32) => (i32[H_SLOT_TABLE] = i32[H_SLOT_TABLE]! + 128)],
      ['a table in the header', (i32) => (i32[H_SLOT_TABLE] = 0)],
      ['a negative table offset', (i32) => (i32[H_SLOT_TABLE] = -128)],
      ['a misaligned table', (i32) => (i32[H_SLOT_TABLE] = i32[H_SLOT_TABLE]! + 4)],
    ];
    for (const [what, patch] of bad) {
      const h = copy(patch);
      const before = Buffer.from(new Uint8Array(h.memory.buffer).slice());
      expect(() => StatsRegistry.attach(h), what).toThrow(InvalidHandleError);
      expect(Buffer.compare(Buffer.from(new Uint8Array(h.memory.buffer).slice()), before), what).toBe(0);
    }
  });
});

describe('the stripe-slot table protocol', () => {
  // Entries written by hand, as threads that are not this one would leave them.
  const table = (count: number) => {
    const r = StatsRegistry.create({ stripes: count, capacityBytes: 65536, backend: 'js' });
    return { r, t: r.table, entry: (i: number) => [...r.table.i32.subarray(r.table.word + i * 4, r.table.word + i * 4 + 4)] };
  };

  it('a claim records this thread (threadId + 1) and its ancestors (none for the main thread)', () => {
    const { entry } = table(4);
    expect(entry(0)).toEqual([threadId + 1, 0, 0, 0]);
    expect(entry(1)).toEqual([0, 0, 0, 0]);
  });

  it("a thread's end frees what it held, what it was claiming, and what its descendants held; nothing else", () => {
    const { r, t, entry } = table(8);
    const rows: [number, number, number, number][] = [
      [101, 0, 0, 0], // 1: held by thread 100
      [-201, 0, 0, 0], // 2: being claimed by thread 200
      [301, 101, 0, 0], // 3: thread 300, a child of 100
      [401, 501, 101, 0], // 4: thread 400, a grandchild of 100
      [601, 0, 0, 0], // 5: thread 600, unrelated
      [-701, 101, 0, 0], // 6: thread 700 claiming, its ancestor words not yet its own
      [801, 901, 0, 0], // 7: thread 800, a child of 900
    ];
    rows.forEach((row, i) => t.i32.set(row, t.word + (i + 1) * 4));
    expect(r.usage().slotsInUse).toBe(8);
    expect(releaseThread(t, 100)).toBe(3);
    expect([1, 3, 4].map((i) => entry(i)[0])).toEqual([0, 0, 0]);
    expect([2, 5, 6, 7].map((i) => entry(i)[0])).toEqual([-201, 601, -701, 801]);
    expect(releaseThread(t, 200)).toBe(1);
    expect(releaseThread(t, 900)).toBe(1);
    expect(releaseThread(t, 100)).toBe(0); // idempotent
    expect(entry(0)[0]).toBe(threadId + 1); // this thread's own entry untouched
    expect(r.usage().slotsInUse).toBe(3);
    // The freed entries are claimed again, lowest first.
    expect(StatsRegistry.attach(r.handle).slot).toBe(1);
    expect(StatsRegistry.attach(r.handle).slot).toBe(2);
  });

  it('garbage in the table is never trusted: it only makes stripes look held', () => {
    const { r, t } = table(4);
    for (let i = 1; i < 4; i++) t.i32.set([0x7fffffff, -1, 0x12345678, -0x80000000], t.word + i * 4);
    t.i32[t.word + 4 * 4] = -5; // the trailer count
    const a = StatsRegistry.attach(r.handle);
    expect(a.slot).toBeGreaterThanOrEqual(4);
    expect(r.usage().slotsInUse).toBe(4);
    const c = a.counters('c', ['n'], { striped: true }).counter('n');
    c.add(9);
    expect(c.value()).toBe(9);
    expect(setCells(r, 'c', 1).shared()).toBe(9n);
    a.close();
    expect(r.usage().slotsInUse).toBe(4);
  });
});

// ---- real threads ---------------------------------------------------------------------------

describe('thread churn with real worker threads', () => {
  it('a piscina pool recycling 48 threads on 16 stripes: every thread owns a stripe, totals exact', async () => {
    const r = StatsRegistry.create({ stripes: 16 });
    // idleTimeout 0 and minThreads 0: piscina terminates each thread as soon as it is idle,
    // so every wave runs on new threads.
    const pool = new Piscina({
      filename: new URL('./workers/churn-pool-task.mjs', import.meta.url).href,
      minThreads: 0,
      maxThreads: 4,
      idleTimeout: 0,
    });
    const WAVES = 12;
    const PER_TASK = 20_000;
    const reports: { slot: number; stripes: number; threadId: number }[] = [];
    try {
      for (let wave = 0; wave < WAVES; wave++) {
        const tasks = [0, 1, 2, 3].map((i) => pool.run({ handle: r.handle, backend: backendOf(wave + i), count: PER_TASK }));
        reports.push(...(await Promise.all(tasks)));
        // The pool terminates the idle threads; the main thread's hook hands their stripes back.
        await until(() => pool.threads.length === 0 && r.usage().slotsInUse === 1, 'the pool to recycle its threads');
      }
    } finally {
      await pool.close();
    }
    const threads = new Set(reports.map((x) => x.threadId));
    expect(threads.size).toBeGreaterThanOrEqual(40);
    for (const x of reports) expect(x.slot).toBeLessThan(x.stripes);
    expect(r.counters('pool', ['n'], { striped: true }).snapshot()).toEqual({ n: WAVES * 4 * PER_TASK });
    // Nothing went to the shared stripe: every count was made on an owned stripe.
    expect(setCells(r, 'pool', 1).shared()).toBe(0n);
    expect(r.usage()).toMatchObject({ slotsInUse: 1, attachmentsWithoutStripe: 0, attachments: 1 + threads.size });
  });

  it.each([false, true])('workers terminated mid-loop keep their counts and their stripes go to new workers (mixed backends: %s)', async (mixed) => {
    const STRIPES = 4;
    const r = StatsRegistry.create({ stripes: STRIPES });
    const done = new SharedArrayBuffer(4 * 3);
    const doneView = new Int32Array(done);
    const spinners = [0, 1, 2].map((index) => start({ mode: 'spin', handle: r.handle, backend: mixed ? backendOf(index) : 'wasm', done, index }));
    const slots = (await Promise.all(spinners.map((s) => s.next()))).map((m) => m.slot);
    expect(new Set(slots)).toEqual(new Set([1, 2, 3]));
    expect(r.usage().slotsInUse).toBe(STRIPES);
    await until(() => doneView.every((d) => d > 2000), 'the spinners to count');
    // While they run, their stripes stay theirs: an attachment now finds none free.
    const late = StatsRegistry.attach(r.handle);
    expect(late.slot).toBeGreaterThanOrEqual(STRIPES);
    late.close();
    await Promise.all(spinners.map((s) => s.worker.terminate()));
    await until(() => r.usage().slotsInUse === 1, 'the stripes of the terminated workers');
    const counter = r.counters('churn', ['n'], { striped: true }).counter('n');
    const left = counter.valueBigInt();
    const doneSum = BigInt(doneView.reduce((a, b) => a + b, 0));
    // Each add is one carry; a kill leaves at most one add more than `done` says.
    expect(left % STEP).toBe(0n);
    expect(left / STEP).toBeGreaterThanOrEqual(doneSum);
    expect(left / STEP).toBeLessThanOrEqual(doneSum + 3n);
    // New workers take the stripes over and continue on the same cells.
    const COUNT = 30_000;
    const next = [0, 1, 2].map((index) =>
      start({ mode: 'count', handle: r.handle, backend: mixed ? backendOf(index + 1) : 'js', count: COUNT, by: Number(STEP), end: 'hold' }),
    );
    const reports = await Promise.all(next.map((s) => s.next()));
    expect(new Set(reports.map((m) => m.slot))).toEqual(new Set([1, 2, 3]));
    await Promise.all(next.map((s) => s.worker.terminate()));
    expect(counter.valueBigInt()).toBe(left + 3n * BigInt(COUNT) * STEP);
    expect(setCells(r, 'churn', 1).shared()).toBe(0n);
    expect(r.usage().slotsInUse).toBe(1);
  });

  it.each(['return', 'exit', 'close'] as const)('a worker that ends by %s releases its own stripe, with no help from its creator', async (end) => {
    // The worker's creator is a relay thread that never attaches (it watches no memory),
    // so only the worker's own exit hook (or its close) can hand the stripe back.
    const r = StatsRegistry.create({ stripes: 2 });
    const relay = start({ mode: 'relay', attach: false, child: { mode: 'count', handle: r.handle, backend: 'js', count: 1000, by: 3, end, exitInc: end !== 'close' } });
    const report = await relay.next();
    expect(report.slot).toBe(1);
    if (end === 'close') expect(report.closedSlot).toBe(-1);
    const exit = await relay.next();
    expect(exit.childExit).toBe(0);
    expect(r.usage().slotsInUse).toBe(1);
    // An exit listener that recorded after the stripe was handed back added to the shared stripe.
    const exitInc = end !== 'close' ? 1 : 0;
    expect(r.counters('churn', ['n'], { striped: true }).snapshot()).toEqual({ n: 3000 + exitInc });
    expect(setCells(r, 'churn', 1).owned(1)).toBe(3000n);
    expect(setCells(r, 'churn', 1).shared()).toBe(BigInt(exitInc));
    expect(StatsRegistry.attach(r.handle).slot).toBe(1);
    await relay.worker.terminate();
  });

  it('a terminated worker whose creator is not the main thread: the creator, attached, releases it', async () => {
    const r = StatsRegistry.create({ stripes: 4 });
    const done = new SharedArrayBuffer(4);
    const parent = start({ mode: 'parent-kills', handle: r.handle, backend: 'wasm', done });
    const m = await parent.next();
    expect(m.slot).toBe(1);
    expect(m.childSlot).toBe(2);
    expect(m.before).toBe(3);
    expect(m.after).toBe(2);
    const v = r.counters('churn', ['n'], { striped: true }).counter('n').valueBigInt();
    expect(v % STEP).toBe(0n);
    expect(v / STEP).toBeGreaterThanOrEqual(BigInt(Atomics.load(new Int32Array(done), 0)));
    await parent.worker.terminate();
    await until(() => r.usage().slotsInUse === 1, 'the parent worker stripe');
  });

  it.each([false, true])('terminating a worker releases the stripes of the workers it started (it attached: %s)', async (attach) => {
    // main -> relay (attached or not) -> relay -> spinner: terminating the first relay stops
    // the whole chain; the main thread never saw the deeper workers start, but they name the
    // first relay as an ancestor in their stripe entries.
    const r = StatsRegistry.create({ stripes: 4 });
    const done = new SharedArrayBuffer(4);
    const spin = { mode: 'spin', handle: r.handle, backend: 'js', done, index: 0 };
    const top = start({ mode: 'relay', attach, handle: r.handle, backend: 'wasm', child: { mode: 'relay', attach: true, handle: r.handle, backend: 'js', child: spin } });
    const m = await top.next();
    expect(m.slot).toBeLessThan(4);
    await until(() => Atomics.load(new Int32Array(done), 0) > 1000, 'the spinner to count');
    expect(r.usage().slotsInUse).toBe(attach ? 4 : 3);
    await top.worker.terminate();
    await until(() => r.usage().slotsInUse === 1, 'the stripes of the whole chain');
    const counter = r.counters('churn', ['n'], { striped: true }).counter('n');
    const v = counter.valueBigInt();
    const spun = Atomics.load(new Int32Array(done), 0);
    expect(v % STEP).toBe(0n);
    expect(v / STEP === BigInt(spun) || v / STEP === BigInt(spun) + 1n).toBe(true);
    // The chain has stopped: nothing moves any more.
    await new Promise((res) => setTimeout(res, 50));
    expect(counter.valueBigInt()).toBe(v);
  });

  it('stress: stripes churn (normal exits, terminations, closes) while other threads count; exact totals', async () => {
    const r = StatsRegistry.create({ stripes: 16 });
    const stop = new SharedArrayBuffer(4);
    const steady = [0, 1].map((i) => start({ mode: 'steady', handle: r.handle, backend: backendOf(i), stop }));
    for (const s of steady) expect((await s.next()).slot).toBeLessThan(16);
    const ends = ['return', 'exit', 'close', 'hold'] as const;
    const LANES = 4;
    const PER_LANE = 8;
    const CHURN = 5_000;
    const churned: Report[] = [];
    const lane = async (l: number) => {
      for (let k = 0; k < PER_LANE; k++) {
        const end = ends[(l + k) % ends.length]!;
        const w = start({ mode: 'count', handle: r.handle, backend: backendOf(l + k), count: CHURN, by: 7, end });
        churned.push(await w.next());
        if (end === 'hold') await w.worker.terminate();
        else await w.exited;
      }
    };
    await Promise.all([0, 1, 2, 3].slice(0, LANES).map(lane));
    Atomics.store(new Int32Array(stop), 0, 1);
    const counts = await Promise.all(steady.map((s) => s.next()));
    await Promise.all(steady.map((s) => s.exited));
    expect(churned).toHaveLength(LANES * PER_LANE);
    // At most 1 + 2 + 4 threads hold a stripe at once, and every release comes before the
    // lane starts its next worker: every churned thread owned a stripe.
    for (const c of churned) expect(c.slot).toBeLessThan(16);
    const steadySum = counts.reduce((a, c) => a + (c as { count: number }).count, 0);
    expect(steadySum).toBeGreaterThan(0);
    expect(r.counters('churn', ['n'], { striped: true }).snapshot()).toEqual({ n: steadySum + LANES * PER_LANE * CHURN * 7 });
    expect(setCells(r, 'churn', 1).shared()).toBe(0n);
    await until(() => r.usage().slotsInUse === 1, 'every stripe back');
    expect(r.usage()).toMatchObject({ attachments: 1 + 2 + LANES * PER_LANE, attachmentsWithoutStripe: 0 });
  });
});
