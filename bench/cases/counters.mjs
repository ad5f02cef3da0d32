// "one counter" and "striped counter" rows of BENCH.md, with the three "before"
// baselines of the one-counter table: the JS spin lock, the same lock in Wasm
// (bench/wasm/baselines.ts) and a futex-style lock (harness/locks.mjs). Every variant
// does the same logical work (n increments of one counter per run(n)) and verify()
// checks the final count against the operations the threads report, so a broken
// variant cannot look fast.
import { StatsRegistry } from '../../dist/index.js';
import { futexLock } from '../harness/locks.mjs';
import { baselineMemory, instantiate } from '../wasm/load.mjs';

const SET = 'bench';
const FIELDS = ['hits'];

function attach(data) {
  return StatsRegistry.attach(data.handle, { backend: data.backend });
}

// The "before": stats behind a lock word taken with compareExchange, updated with plain
// stores while held (a u64 as two u32 halves, so the mutex pays no BigInt cost).
function mutexCounter(sab, word) {
  const i32 = new Int32Array(sab);
  const u32 = new Uint32Array(sab);
  const lock = word;
  const lo = word + 2;
  return () => {
    while (Atomics.compareExchange(i32, lock, 0, 1) !== 0);
    const v = u32[lo] + 1;
    if (v > 0xffffffff) {
      u32[lo] = 0;
      u32[lo + 1] += 1;
    } else u32[lo] = v;
    Atomics.store(i32, lock, 0);
  };
}

// The same counter behind a futex-style lock: sleeps in Atomics.wait instead of spinning.
function futexCounter(sab, word) {
  const i32 = new Int32Array(sab);
  const u32 = new Uint32Array(sab);
  const { lock, unlock } = futexLock(i32, word);
  const lo = word + 2;
  return () => {
    lock();
    const v = u32[lo] + 1;
    if (v > 0xffffffff) {
      u32[lo] = 0;
      u32[lo + 1] += 1;
    } else u32[lo] = v;
    unlock();
  };
}

// The "before" variants; speed-up targets compare against the fastest of them in each
// repetition, so that no target is met against a weak baseline.
const BEFORE = ['one/mutex', 'one/wasm-mutex', 'one/futex'];

export const cases = [
  { id: 'one/plain-field', table: 'one counter', variant: 'plain JS field (not shared)', threads: [1, 2] },
  { id: 'one/atomics-i32', table: 'one counter', variant: 'Atomics.add on Int32Array', threads: [1, 2] },
  { id: 'one/js', table: 'one counter', variant: 'JS backend Counter.inc()', threads: [1, 2] },
  { id: 'one/wasm', table: 'one counter', variant: 'Wasm backend Counter.inc()', threads: [1, 2] },
  { id: 'one/mutex', table: 'one counter', variant: 'mutex-guarded, JS spin lock (before)', threads: [1, 2], baseline: true },
  { id: 'one/wasm-mutex', table: 'one counter', variant: 'mutex-guarded, Wasm spin lock (before)', threads: [1, 2] },
  { id: 'one/futex', table: 'one counter', variant: 'mutex-guarded, futex lock: Atomics.wait (before)', threads: [1, 2], blocks: true },
  { id: 'striped/wasm-single', table: 'striped counter', variant: 'Wasm, one shared cell', threads: [1, 2], baseline: true },
  { id: 'striped/wasm', table: 'striped counter', variant: 'Wasm, striped', threads: [1, 2] },
  { id: 'striped/js-single', table: 'striped counter', variant: 'JS, one shared cell', threads: [1, 2] },
  { id: 'striped/js', table: 'striped counter', variant: 'JS, striped', threads: [1, 2] },
  { id: 'striped/atomics-padded', table: 'striped counter', variant: 'Atomics.add, a padded cell per thread (floor)', threads: [1, 2] },
];

export async function setup(id) {
  if (id === 'one/plain-field') return {};
  if (id === 'one/atomics-i32' || id === 'one/mutex' || id === 'one/futex' || id === 'striped/atomics-padded') return { sab: new SharedArrayBuffer(4096) };
  if (id === 'one/wasm-mutex') return { memory: baselineMemory() };
  const backend = id.includes('js') ? 'js' : 'wasm';
  const striped = id === 'striped/wasm' || id === 'striped/js';
  // 64 owned stripes: every attachment the table keeps alive (each variant's threads,
  // verify()) owns one, as a right-sized pool would; the default is sized to the cores.
  const registry = StatsRegistry.create({ backend, stripes: 64 });
  registry.counters(SET, FIELDS, { striped });
  return { handle: registry.handle, backend, striped };
}

export async function prepare(id, data, index) {
  if (id === 'one/plain-field') {
    const local = { hits: 0 };
    return {
      run(n) {
        for (let i = 0; i < n; i++) local.hits++;
      },
      report: () => local.hits,
    };
  }
  if (id === 'one/atomics-i32') {
    const i32 = new Int32Array(data.sab);
    return {
      run(n) {
        for (let i = 0; i < n; i++) Atomics.add(i32, 0, 1);
      },
    };
  }
  if (id === 'striped/atomics-padded') {
    const i32 = new Int32Array(data.sab);
    const word = index * 32; // 128 bytes apart
    return {
      run(n) {
        for (let i = 0; i < n; i++) Atomics.add(i32, word, 1);
      },
    };
  }
  if (id === 'one/wasm-mutex') {
    // Lock word at byte 0, the i64 counter at byte 8.
    const { mutexInc } = instantiate(data.memory);
    return {
      run(n) {
        for (let i = 0; i < n; i++) mutexInc(0, 8);
      },
    };
  }
  if (id === 'one/mutex' || id === 'one/futex') {
    const inc = id === 'one/mutex' ? mutexCounter(data.sab, 0) : futexCounter(data.sab, 0);
    return {
      run(n) {
        for (let i = 0; i < n; i++) inc();
      },
    };
  }
  const counter = attach(data).counters(SET, FIELDS, { striped: data.striped }).counter('hits');
  return {
    run(n) {
      for (let i = 0; i < n; i++) counter.inc();
    },
  };
}

export async function verify(id, data, totalOps, reports) {
  let got;
  if (id === 'one/plain-field') got = reports.reduce((s, r) => s + r, 0);
  else if (id === 'one/atomics-i32') got = new Uint32Array(data.sab)[0];
  else if (id === 'striped/atomics-padded') {
    const u32 = new Uint32Array(data.sab);
    got = 0;
    for (let w = 0; w < 4096 / 4; w += 32) got += u32[w];
  } else if (id === 'one/wasm-mutex') {
    got = Number(new BigInt64Array(data.memory.buffer)[1]);
  } else if (id === 'one/mutex' || id === 'one/futex') {
    const u32 = new Uint32Array(data.sab);
    got = u32[3] * 4294967296 + u32[2];
  } else {
    const r = StatsRegistry.attach(data.handle, { backend: data.backend });
    got = Number(r.counters(SET, FIELDS, { striped: data.striped }).counter('hits').valueBigInt());
  }
  if (got !== totalOps) throw new Error(`${id}: counted ${got}, expected ${totalOps}`);
}

const ratio = (a, b) => a / b;
const fmt = (x) => `${x.toFixed(2)}×`;

export function targets(results) {
  const ns = (id, t) => results.find((r) => r.id === id && r.threads === t)?.median;
  const out = [];
  // value: the ratio, so the report can give its min / median / max over repetitions.
  const push = (name, value, target, pass) => out.push({ name, value, measured: fmt(value), target, pass });
  const w1 = ns('one/wasm', 1);
  const a1 = ns('one/atomics-i32', 1);
  if (w1 && a1) push('Wasm Counter.inc() vs raw Atomics.add, 1 thread', ratio(w1, a1), '≤ 1.20×', w1 <= 1.2 * a1);
  for (const [b, label] of [['js', 'JS'], ['wasm', 'Wasm']]) {
    for (const [t, need] of [[1, 2], [2, 3]]) {
      const before = BEFORE.map((id) => ns(id, t));
      const m = before.every((x) => x) ? Math.min(...before) : undefined;
      const x = ns(`one/${b}`, t);
      if (m && x) push(`${label} backend speed-up over the fastest mutex (JS spin, Wasm spin, futex), ${t} thread${t > 1 ? 's' : ''}`, ratio(m, x), `≥ ${need}×`, m / x >= need);
    }
    const s1 = ns(`striped/${b}`, 1);
    const s2 = ns(`striped/${b}`, 2);
    const c2 = ns(`striped/${b}-single`, 2);
    if (s2 && c2) push(`${label} striped vs one contended cell, 2 threads (throughput)`, ratio(c2, s2), '≥ 3×', c2 / s2 >= 3);
    // Across two tables (1 and 2 threads): the ratio pairs the same repetition index.
    if (s1 && s2) push(`${label} striped, 2-thread vs 1-thread aggregate throughput`, ratio(s1, s2), '≥ 1.8×', s1 / s2 >= 1.8);
  }
  return out;
}
