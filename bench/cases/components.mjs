// Issue 3 rows of BENCH.md: the record paths of the three stats structs (Wasm vs JS vs
// the same struct behind three "before" locks: JS spin, Wasm spin, futex; 1 and 2
// threads), and InProcessEventBus.publish with one
// wildcard-matched synchronous handler and no receivers against mitt, node:events and
// eventemitter2. Every variant does the same logical work and verify() checks the final
// counts against the operations the harness reports.
import { EventEmitter } from 'node:events';
import mitt from 'mitt';
import EventEmitter2 from 'eventemitter2';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';
import { futexLock } from '../harness/locks.mjs';
import { baselineMemory, instantiate } from '../wasm/load.mjs';

const MS = 3; // the duration every recordSuccess records

// ---- the "before": a struct of u64 fields behind a lock word ------------------------
// Word 0 is the lock (taken with compareExchange, released with a store); field f is
// two u32 halves at words 2 + 2f (lo) and 3 + 2f (hi), updated with plain stores while
// the lock is held: the Mutex<Stats> of the original, in shared memory.
// With `futex`, the same struct behind the futex-style lock of harness/locks.mjs.
function mutexStruct(sab, futex = false) {
  const i32 = new Int32Array(sab);
  const u32 = new Uint32Array(sab);
  const add = (f, n) => {
    const lo = 2 + 2 * f;
    const v = u32[lo] + n;
    if (v > 0xffffffff) {
      u32[lo] = v - 4294967296;
      u32[lo + 1] += 1;
    } else u32[lo] = v;
  };
  const spin = {
    lock: () => {
      while (Atomics.compareExchange(i32, 0, 0, 1) !== 0);
    },
    unlock: () => Atomics.store(i32, 0, 0),
  };
  const { lock, unlock } = futex ? futexLock(i32, 0) : spin;
  return {
    // StepExecutionStats.recordSuccess(ms): executed, succeeded, time
    stepSuccess(ms) {
      lock();
      add(0, 1);
      add(1, 1);
      add(3, ms);
      unlock();
    },
    // a publish's stats with a handler step and no receiver: total, rust dispatches, drops
    busPublish() {
      lock();
      add(0, 1);
      add(1, 1);
      add(4, 1);
      unlock();
    },
    // recordCompletion(true): received, successful
    subCompletion() {
      lock();
      add(0, 1);
      add(1, 1);
      unlock();
    },
    read: (f) => u32[3 + 2 * f] * 4294967296 + u32[2 + 2 * f],
  };
}

const STRUCTS = [
  ['step', 'StepExecutionStats.recordSuccess(ms) (3 cells)'],
  ['bus', 'event-bus stats, one publish (3 cells)'],
  ['sub', 'subscriber stats.recordCompletion(true) (2 cells)'],
];
const VARIANTS = [
  ['wasm', 'Wasm backend, striped (default)'],
  ['js', 'JS backend, striped (default)'],
  ['wasm-shared', 'Wasm backend, unstriped (atomic adds)'],
  ['mutex', 'mutex-guarded struct, JS spin lock (before)'],
  ['wasm-mutex', 'mutex-guarded struct, Wasm spin lock (before)'],
  ['futex', 'mutex-guarded struct, futex lock (before)'],
];
const BEFORE = ['mutex', 'wasm-mutex', 'futex'];

// The Wasm spin-lock struct (bench/wasm/baselines.ts): lock word at byte 0, field f an
// i64 at byte 8 + 8f. mutexAdd3(lock, a, b, c, d) adds 1 to a and b and d to c (c = 0:
// no third field), the same updates as the JS struct's methods.
const W_FIELD = (f) => 8 + 8 * f;
function wasmMutexStruct(memory, s) {
  const { mutexAdd3 } = instantiate(memory);
  const f0 = W_FIELD(0);
  const f1 = W_FIELD(1);
  if (s === 'step') {
    const f3 = W_FIELD(3);
    return () => mutexAdd3(0, f0, f1, f3, MS);
  }
  if (s === 'bus') {
    const f4 = W_FIELD(4);
    return () => mutexAdd3(0, f0, f1, f4, 1);
  }
  return () => mutexAdd3(0, f0, f1, 0, 0);
}

const recordCases = STRUCTS.flatMap(([s, table]) =>
  VARIANTS.map(([v, variant]) => ({
    id: `rec/${s}/${v}`,
    table: `stats record path: ${table}`,
    variant,
    threads: [1, 2],
    ...(v === 'mutex' ? { baseline: true } : {}),
    ...(v === 'futex' ? { blocks: true } : {}),
  })),
);

const BUS_TABLE = 'event bus publish (one wildcard-matched sync handler, no receivers)';
const busCases = [
  { id: 'pub/bus-wasm', variant: 'InProcessEventBus, stats on (Wasm backend)' },
  { id: 'pub/bus-js', variant: 'InProcessEventBus, stats on (JS backend)' },
  { id: 'pub/bus-off', variant: 'InProcessEventBus, stats off' },
  { id: 'pub/mitt', variant: "mitt ('*' handler)" },
  { id: 'pub/events', variant: 'node:events (exact listener; no wildcards)' },
  { id: 'pub/ee2', variant: "eventemitter2 (wildcard: true, 'order.*')", baseline: true },
].map((c) => ({ ...c, table: BUS_TABLE, threads: [1], kind: 'tinybench' }));

export const cases = [...recordCases, ...busCases];

export async function setup(id) {
  if (id.startsWith('rec/') && (id.endsWith('/mutex') || id.endsWith('/futex'))) return { sab: new SharedArrayBuffer(256) };
  if (id.startsWith('rec/') && id.endsWith('/wasm-mutex')) return { memory: baselineMemory() };
  if (id.startsWith('rec/')) {
    const [, s, v] = id.split('/');
    const backend = v === 'js' ? 'js' : 'wasm';
    // 64 owned stripes: every attachment the table keeps alive (each variant's threads,
    // verify()) owns one, as a right-sized pool would; the default is sized to the cores.
    const registry = StatsRegistry.create({ backend, stripes: 64 });
    return { handle: registry.handle, backend, struct: s, striped: v !== 'wasm-shared' };
  }
  if (id === 'pub/bus-wasm' || id === 'pub/bus-js' || id === 'pub/bus-off') {
    const backend = id === 'pub/bus-js' ? 'js' : 'wasm';
    return { handle: StatsRegistry.create({ backend, stripes: 64 }).handle, backend };
  }
  return {};
}

function openStruct(registry, struct, striped) {
  if (struct === 'step') return registry.stepExecutionStats('bench', { striped });
  if (struct === 'bus') return registry.eventBusStats('bench', { striped });
  return registry.workerSubscriberStats('bench', { striped });
}

const EVENT = {
  event_id: '00000000-0000-4000-8000-000000000000',
  event_name: 'order.created',
  event_version: '1.0',
  payload: { amount: 1 },
  metadata: { task_uuid: 't', namespace: 'bench', correlation_id: 'c', fired_at: '1970-01-01T00:00:00.000Z', fired_by: 'bench' },
};

export async function prepare(id, data) {
  if (id.startsWith('rec/')) {
    const s = id.split('/')[1];
    if (id.endsWith('/wasm-mutex')) {
      const f = wasmMutexStruct(data.memory, s);
      return {
        run(n) {
          for (let i = 0; i < n; i++) f();
        },
      };
    }
    if (id.endsWith('/mutex') || id.endsWith('/futex')) {
      const m = mutexStruct(data.sab, id.endsWith('/futex'));
      const f = s === 'step' ? () => m.stepSuccess(MS) : s === 'bus' ? m.busPublish : m.subCompletion;
      return {
        run(n) {
          for (let i = 0; i < n; i++) f();
        },
      };
    }
    const st = openStruct(StatsRegistry.attach(data.handle, { backend: data.backend }), s, data.striped);
    if (s === 'step')
      return {
        run(n) {
          for (let i = 0; i < n; i++) st.recordSuccess(MS);
        },
      };
    if (s === 'bus')
      return {
        // What InProcessEventBus records for a publish with handlers and no receiver:
        // one call (flags = handler step, no ffi dispatch).
        run(n) {
          for (let i = 0; i < n; i++) st.recordPublish(1, 0, 0);
        },
      };
    return {
      run(n) {
        for (let i = 0; i < n; i++) st.recordCompletion(true);
      },
    };
  }

  let handled = 0;
  const handler = () => {
    handled++;
  };
  const report = () => handled;
  if (id.startsWith('pub/bus')) {
    const registry = StatsRegistry.attach(data.handle, { backend: data.backend });
    const bus = new InProcessEventBus({ registry, name: 'bench', recordStats: id !== 'pub/bus-off' });
    bus.subscribe('order.*', handler);
    return {
      run(n) {
        for (let i = 0; i < n; i++) bus.publish(EVENT);
      },
      report,
    };
  }
  if (id === 'pub/mitt') {
    const m = mitt();
    m.on('*', handler);
    return {
      run(n) {
        for (let i = 0; i < n; i++) m.emit('order.created', EVENT);
      },
      report,
    };
  }
  if (id === 'pub/events') {
    const e = new EventEmitter();
    e.on('order.created', handler);
    return {
      run(n) {
        for (let i = 0; i < n; i++) e.emit('order.created', EVENT);
      },
      report,
    };
  }
  if (id === 'pub/ee2') {
    const e = new EventEmitter2({ wildcard: true, delimiter: '.' });
    e.on('order.*', handler);
    return {
      run(n) {
        for (let i = 0; i < n; i++) e.emit('order.created', EVENT);
      },
      report,
    };
  }
  throw new Error(`unknown case ${id}`);
}

export async function verify(id, data, totalOps, reports) {
  const fail = (what, got, want) => {
    if (got !== want) throw new Error(`${id}: ${what} is ${got}, expected ${want}`);
  };
  if (id.startsWith('rec/')) {
    const s = id.split('/')[1];
    if (id.endsWith('/wasm-mutex')) {
      const i64 = new BigInt64Array(data.memory.buffer);
      const read = (f) => Number(i64[W_FIELD(f) / 8]);
      fail('field 0', read(0), totalOps);
      fail('field 1', read(1), totalOps);
      if (s === 'step') fail('time', read(3), totalOps * MS);
      if (s === 'bus') fail('drops', read(4), totalOps);
      return;
    }
    if (id.endsWith('/mutex') || id.endsWith('/futex')) {
      const m = mutexStruct(data.sab);
      fail('field 0', m.read(0), totalOps);
      fail('field 1', m.read(1), totalOps);
      if (s === 'step') fail('time', m.read(3), totalOps * MS);
      if (s === 'bus') fail('drops', m.read(4), totalOps);
      return;
    }
    const st = openStruct(StatsRegistry.attach(data.handle, { backend: data.backend }), s, data.striped);
    if (s === 'step') {
      const snap = st.snapshotBigInt();
      fail('total_executed', snap.total_executed, BigInt(totalOps));
      fail('total_succeeded', snap.total_succeeded, BigInt(totalOps));
      fail('time', st.totalExecutionTimeMs(), BigInt(totalOps * MS));
    } else if (s === 'bus') {
      const snap = st.snapshotBigInt();
      fail('total_events_dispatched', snap.total_events_dispatched, BigInt(totalOps));
      fail('rust_handler_dispatches', snap.rust_handler_dispatches, BigInt(totalOps));
      fail('ffi_channel_drops', snap.ffi_channel_drops, BigInt(totalOps));
    } else {
      const snap = st.snapshotBigInt();
      fail('completions_received', snap.completions_received, BigInt(totalOps));
      fail('successful_completions', snap.successful_completions, BigInt(totalOps));
    }
    return;
  }
  fail('handler calls', reports[0], totalOps);
  if (id === 'pub/bus-wasm' || id === 'pub/bus-js' || id === 'pub/bus-off') {
    const s = StatsRegistry.attach(data.handle).eventBusStats('bench').snapshotBigInt();
    fail('total_events_dispatched', s.total_events_dispatched, id === 'pub/bus-off' ? 0n : BigInt(totalOps));
    fail('ffi_channel_drops', s.ffi_channel_drops, id === 'pub/bus-off' ? 0n : BigInt(totalOps));
  }
}

const fmt = (x) => `${x.toFixed(2)}×`;

export function targets(results) {
  const ns = (id, t) => results.find((r) => r.id === id && r.threads === t)?.median;
  const out = [];
  // value: the figure the verdict is about, so the report can give its range.
  const push = (name, value, measured, target, pass) => out.push({ name, value, measured, target, pass });
  for (const [s, label] of STRUCTS) {
    for (const [v, vlabel] of [['wasm', 'Wasm'], ['js', 'JS']]) {
      for (const [t, need] of [[1, 2], [2, 3]]) {
        // Against the fastest of the three "before" locks in the same repetition.
        const before = BEFORE.map((b) => ns(`rec/${s}/${b}`, t));
        const m = before.every((x) => x) ? Math.min(...before) : undefined;
        const x = ns(`rec/${s}/${v}`, t);
        if (m && x) push(`${label}, ${vlabel}: speed-up over the fastest mutex, ${t} thread${t > 1 ? 's' : ''}`, m / x, fmt(m / x), `≥ ${need}×`, m / x >= need);
      }
    }
  }
  const ee2 = ns('pub/ee2', 1);
  const off = ns('pub/bus-off', 1);
  for (const [id, label] of [['pub/bus-wasm', 'Wasm'], ['pub/bus-js', 'JS']]) {
    const on = ns(id, 1);
    if (on && ee2) push(`publish (stats on, ${label}) vs eventemitter2 wildcard emit`, on / ee2, fmt(on / ee2), '≤ 0.33×', on <= ee2 / 3);
    if (on && off) push(`stats overhead on publish (${label} backend)`, on / off, `+${(((on - off) / off) * 100).toFixed(0)}%`, '≤ +15% (on / off ≤ 1.15×)', on <= off * 1.15);
  }
  return out;
}
