// The physics table: the floors of this machine next to the headline operations, all in
// one interleaved table so that every "ratio to floor" is a same-run ratio.
//
// Floors (one thread, nothing contended):
// - a plain load + add + store of a cell this thread owns in shared memory: what an
//   owned stripe's increment costs at best from JS;
// - Atomics.add on an Int32Array: the cheapest atomic read-modify-write JS can issue;
// - a Wasm-internal atomic add: n i64 atomic adds inside one Wasm call, per add, so no
//   call boundary is paid: the floor of the Wasm counter's inc;
// - an empty JS->Wasm call (an export returning its argument + 1, summed by the caller
//   so that the call cannot be dropped).
// Headline operations: Counter.inc on one shared cell and on a striped set, both
// backends, and InProcessEventBus.publish with stats on and off.
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';
import { baselineMemory, instantiate } from '../wasm/load.mjs';

const TABLE = 'physics: floors and headline operations (1 thread)';
const SET = 'bench';
const FIELDS = ['hits'];
const ATOMIC_CELL = 64; // byte offset of the i64 the Wasm-internal floor adds to

export const cases = [
  { id: 'phys/store', variant: 'floor: plain load + store, owned cell' },
  { id: 'phys/atomics', variant: 'floor: Atomics.add on Int32Array' },
  { id: 'phys/wasm-atomic', variant: 'floor: Wasm-internal i64 atomic add (per add)' },
  { id: 'phys/wasm-call', variant: 'floor: empty JS→Wasm call' },
  { id: 'phys/inc-wasm', variant: 'Counter.inc, one shared cell, Wasm backend' },
  { id: 'phys/inc-js', variant: 'Counter.inc, one shared cell, JS backend' },
  { id: 'phys/striped-js', variant: 'Counter.inc, striped, JS backend' },
  { id: 'phys/striped-wasm', variant: 'Counter.inc, striped, Wasm backend' },
  { id: 'phys/publish-off', variant: 'publish, stats off' },
  { id: 'phys/publish-wasm', variant: 'publish, stats on, Wasm backend' },
  { id: 'phys/publish-js', variant: 'publish, stats on, JS backend' },
  { id: 'phys/publish-auto', variant: "publish, stats on, 'auto' backend (the default)" },
].map((c) => ({ ...c, table: TABLE, threads: [1] }));

// Each headline operation against its floor; `goal` makes it a target.
export const physics = [
  { name: 'Wasm Counter.inc vs a Wasm-internal atomic add', id: 'phys/inc-wasm', floor: 'phys/wasm-atomic', goal: 1.4 },
  { name: 'Wasm Counter.inc vs an empty JS→Wasm call', id: 'phys/inc-wasm', floor: 'phys/wasm-call' },
  { name: 'JS Counter.inc (one cell) vs Atomics.add', id: 'phys/inc-js', floor: 'phys/atomics' },
  { name: 'JS striped inc vs a plain store', id: 'phys/striped-js', floor: 'phys/store', goal: 3 },
  { name: 'Wasm striped inc vs a plain store', id: 'phys/striped-wasm', floor: 'phys/store' },
  { name: 'publish with stats (Wasm) vs stats off', id: 'phys/publish-wasm', floor: 'phys/publish-off', goal: 1.35 },
  { name: 'publish with stats (JS) vs stats off', id: 'phys/publish-js', floor: 'phys/publish-off', goal: 1.35 },
  { name: "publish with stats ('auto') vs stats off", id: 'phys/publish-auto', floor: 'phys/publish-off', goal: 1.35 },
];

const EVENT = {
  event_id: '00000000-0000-4000-8000-000000000000',
  event_name: 'order.created',
  event_version: '1.0',
  payload: { amount: 1 },
  metadata: { task_uuid: 't', namespace: 'bench', correlation_id: 'c', fired_at: '1970-01-01T00:00:00.000Z', fired_by: 'bench' },
};

export async function setup(id) {
  if (id === 'phys/store' || id === 'phys/atomics') return { sab: new SharedArrayBuffer(256) };
  if (id === 'phys/wasm-atomic' || id === 'phys/wasm-call') return { memory: baselineMemory() };
  const backend = id.endsWith('-js') ? 'js' : id.endsWith('-auto') ? 'auto' : 'wasm';
  // 64 owned stripes: every attachment the table keeps alive (each variant's threads,
  // verify()) owns one, as a right-sized pool would; the default is sized to the cores.
  const registry = StatsRegistry.create({ backend, stripes: 64 });
  if (id.startsWith('phys/publish')) return { handle: registry.handle, backend };
  const striped = id.startsWith('phys/striped');
  registry.counters(SET, FIELDS, { striped });
  return { handle: registry.handle, backend, striped };
}

export async function prepare(id, data) {
  if (id === 'phys/store') {
    const u32 = new Uint32Array(data.sab);
    const cell = 16; // this thread's own cell: nobody else writes it
    return {
      run(n) {
        for (let i = 0; i < n; i++) u32[cell] = (u32[cell] + 1) >>> 0;
      },
    };
  }
  if (id === 'phys/atomics') {
    const i32 = new Int32Array(data.sab);
    return {
      run(n) {
        for (let i = 0; i < n; i++) Atomics.add(i32, 0, 1);
      },
    };
  }
  if (id === 'phys/wasm-atomic') {
    const { atomicAddLoop } = instantiate(data.memory);
    return {
      run(n) {
        atomicAddLoop(ATOMIC_CELL, n);
      },
    };
  }
  if (id === 'phys/wasm-call') {
    const { bump } = instantiate(data.memory);
    let calls = 0;
    return {
      run(n) {
        let c = calls;
        for (let i = 0; i < n; i++) c = bump(c);
        calls = c;
      },
      report: () => calls,
    };
  }
  const registry = StatsRegistry.attach(data.handle, { backend: data.backend });
  if (id.startsWith('phys/publish')) {
    let handled = 0;
    const bus = new InProcessEventBus({ registry, name: 'bench', recordStats: id !== 'phys/publish-off' });
    bus.subscribe('order.*', () => {
      handled++;
    });
    return {
      run(n) {
        for (let i = 0; i < n; i++) bus.publish(EVENT);
      },
      report: () => handled,
    };
  }
  const counter = registry.counters(SET, FIELDS, { striped: data.striped }).counter('hits');
  return {
    run(n) {
      for (let i = 0; i < n; i++) counter.inc();
    },
  };
}

export async function verify(id, data, totalOps, reports) {
  let got;
  if (id === 'phys/store') got = new Uint32Array(data.sab)[16];
  else if (id === 'phys/atomics') got = new Uint32Array(data.sab)[0];
  else if (id === 'phys/wasm-atomic') got = Number(new BigInt64Array(data.memory.buffer)[ATOMIC_CELL / 8]);
  else if (id === 'phys/wasm-call' || id.startsWith('phys/publish')) {
    got = reports[0];
    if (id.startsWith('phys/publish')) {
      const s = StatsRegistry.attach(data.handle).eventBusStats('bench').snapshotBigInt();
      const want = id === 'phys/publish-off' ? 0n : BigInt(totalOps);
      if (s.total_events_dispatched !== want) throw new Error(`${id}: stats counted ${s.total_events_dispatched} publishes, expected ${want}`);
    }
  } else {
    const r = StatsRegistry.attach(data.handle, { backend: data.backend });
    got = Number(r.counters(SET, FIELDS, { striped: data.striped }).counter('hits').valueBigInt());
  }
  if (got !== totalOps) throw new Error(`${id}: counted ${got}, expected ${totalOps}`);
}

export function targets(results) {
  const ns = (id) => results.find((r) => r.id === id && r.threads === 1)?.median;
  const out = [];
  for (const p of physics) {
    if (!p.goal) continue;
    const a = ns(p.id);
    const b = ns(p.floor);
    if (a === undefined || b === undefined) continue;
    const value = a / b;
    out.push({ name: `${p.name} (physics)`, target: `≤ ${p.goal}×`, value, measured: `${value.toFixed(2)}×`, pass: value <= p.goal });
  }
  return out;
}
