// "circuit breaker" rows of BENCH.md (issue 4).
//
// 1. The synchronous guard: one permit + one recorded success per operation, on one
//    breaker shared by every thread, both backends, 1 and 2 threads; the "before" is the
//    same work under a lock word (the original's Mutex<Stats>). verify() reads the shared
//    breaker and requires exactly one call, one success and 100 ns per operation.
// 2. call(async fn): one awaited call of the same async function per operation, through
//    this breaker, opossum's fire(), cockatiel's execute() and a bare await (the floor).
//    call() measures each call's duration (two clock reads); opossum does too (Date.now),
//    cockatiel only when a listener asks for durations, so it is run both ways, and a
//    bare await with two performance.now() reads shows what the timing alone costs.
//    Each variant counts the function's real executions, and verify() requires exactly
//    one per operation (and, for this breaker, the same in its shared counters).
// 3. call(async fn) with a per-call timeout (long enough never to fire): this breaker's
//    call(fn, { timeoutMs }) against cockatiel's wrap(breaker, timeout(...)) (the breaker
//    outside, so a timeout counts as its failure, as here) and opossum's fire with its
//    `timeout` on. Each arms and clears one timer per call; same verification as 2.
import CircuitBreakerOpossum from 'opossum';
import { ConsecutiveBreaker, TimeoutStrategy, circuitBreaker as cockatielBreaker, handleAll, timeout as cockatielTimeout, wrap } from 'cockatiel';
import { StatsRegistry } from '../../dist/index.js';

const NAME = 'bench';
const DURATION = 100;
// Per-call timeout of table 3: armed and cleared on every call, never reached.
const CALL_TIMEOUT_MS = 30_000;

export const cases = [
  { id: 'breaker/guard-mutex', table: 'circuit breaker: sync guard (permit + record success)', variant: 'lock word, plain fields (before)', threads: [1, 2], baseline: true },
  { id: 'breaker/guard-wasm', table: 'circuit breaker: sync guard (permit + record success)', variant: 'Wasm backend tryAcquire + recordSuccess', threads: [1, 2] },
  { id: 'breaker/guard-js', table: 'circuit breaker: sync guard (permit + record success)', variant: 'JS backend tryAcquire + recordSuccess', threads: [1, 2] },
  { id: 'breaker/guard-auto', table: 'circuit breaker: sync guard (permit + record success)', variant: "'auto' backend (the default) tryAcquire + recordSuccess", threads: [1, 2] },
  { id: 'breaker/await-bare', table: 'circuit breaker: call(async fn)', variant: 'bare await of the async fn (floor)', threads: [1], kind: 'tinybench', baseline: true },
  { id: 'breaker/await-timed', table: 'circuit breaker: call(async fn)', variant: 'bare await + two performance.now() (the cost of timing it)', threads: [1], kind: 'tinybench' },
  { id: 'breaker/call-wasm', table: 'circuit breaker: call(async fn)', variant: 'atomic-stats call(), Wasm backend', threads: [1], kind: 'tinybench' },
  { id: 'breaker/call-js', table: 'circuit breaker: call(async fn)', variant: 'atomic-stats call(), JS backend', threads: [1], kind: 'tinybench' },
  { id: 'breaker/cockatiel', table: 'circuit breaker: call(async fn)', variant: 'cockatiel execute (ConsecutiveBreaker)', threads: [1], kind: 'tinybench' },
  { id: 'breaker/cockatiel-timed', table: 'circuit breaker: call(async fn)', variant: 'cockatiel execute, timing each call (onSuccess listener)', threads: [1], kind: 'tinybench' },
  { id: 'breaker/opossum', table: 'circuit breaker: call(async fn)', variant: 'opossum fire (timeout off)', threads: [1], kind: 'tinybench' },
  { id: 'breaker/timeout-await-bare', table: 'circuit breaker: call(async fn) with a per-call timeout', variant: 'bare await of the async fn (floor)', threads: [1], kind: 'tinybench', baseline: true },
  { id: 'breaker/timeout-call-wasm', table: 'circuit breaker: call(async fn) with a per-call timeout', variant: 'atomic-stats call(fn, { timeoutMs }), Wasm backend', threads: [1], kind: 'tinybench' },
  { id: 'breaker/timeout-call-js', table: 'circuit breaker: call(async fn) with a per-call timeout', variant: 'atomic-stats call(fn, { timeoutMs }), JS backend', threads: [1], kind: 'tinybench' },
  { id: 'breaker/timeout-cockatiel', table: 'circuit breaker: call(async fn) with a per-call timeout', variant: 'cockatiel wrap(breaker, timeout(cooperative)).execute', threads: [1], kind: 'tinybench' },
  { id: 'breaker/timeout-opossum', table: 'circuit breaker: call(async fn) with a per-call timeout', variant: 'opossum fire (timeout on)', threads: [1], kind: 'tinybench' },
];

// The "before" of the guard: the breaker's state and counters behind one lock word,
// taken with compareExchange for the permit and again for the record (u64s as u32 pairs).
//   i32[0] lock, i32[1] state, u32[4..5] total_calls, [6..7] success_count,
//   [8..9] total_duration_nanos, i32[10] consecutive_failures
function mutexBreaker(sab) {
  const i32 = new Int32Array(sab);
  const u32 = new Uint32Array(sab);
  const lock = () => {
    while (Atomics.compareExchange(i32, 0, 0, 1) !== 0);
  };
  const unlock = () => Atomics.store(i32, 0, 0);
  const add = (at, n) => {
    const v = u32[at] + n;
    if (v > 0xffffffff) {
      u32[at] = v - 0x100000000;
      u32[at + 1] += 1;
    } else u32[at] = v;
  };
  return {
    tryAcquire() {
      lock();
      const closed = i32[1] === 0;
      unlock();
      return closed;
    },
    recordSuccess(d) {
      lock();
      add(4, 1);
      add(6, 1);
      add(8, d);
      if (i32[1] === 0) i32[10] = 0;
      unlock();
    },
  };
}

const read64 = (u32, at) => u32[at + 1] * 4294967296 + u32[at];

export async function setup(id) {
  if (id === 'breaker/guard-mutex') return { sab: new SharedArrayBuffer(64) };
  if (id.startsWith('breaker/guard-') || id.startsWith('breaker/call-') || id.startsWith('breaker/timeout-call-')) {
    const backend = id.endsWith('-js') ? 'js' : id.endsWith('-auto') ? 'auto' : 'wasm';
    // 64 owned stripes: every attachment the table keeps alive (each variant's threads,
    // verify()) owns one, as a right-sized pool would; the default is sized to the cores.
    const registry = StatsRegistry.create({ backend, stripes: 64 });
    registry.circuitBreaker(NAME);
    return { handle: registry.handle, backend };
  }
  return {};
}

export async function prepare(id, data) {
  if (id === 'breaker/guard-mutex') {
    const b = mutexBreaker(data.sab);
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (b.tryAcquire()) b.recordSuccess(DURATION);
      },
    };
  }
  if (id.startsWith('breaker/guard-')) {
    const b = StatsRegistry.attach(data.handle, { backend: data.backend }).circuitBreaker(NAME);
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (b.tryAcquire()) b.recordSuccess(DURATION);
      },
    };
  }

  // call(async fn) cases: the same async function everywhere, counting its executions.
  let executed = 0;
  const work = async () => ++executed;
  const report = () => executed;
  if (id === 'breaker/await-bare' || id === 'breaker/timeout-await-bare') {
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await work();
      },
      report,
    };
  }
  if (id === 'breaker/await-timed') {
    let totalMs = 0;
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await work();
          totalMs += performance.now() - t;
        }
      },
      report,
    };
  }
  if (id.startsWith('breaker/call-')) {
    const b = StatsRegistry.attach(data.handle, { backend: data.backend }).circuitBreaker(NAME);
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await b.call(work);
      },
      report,
    };
  }
  if (id.startsWith('breaker/timeout-call-')) {
    const b = StatsRegistry.attach(data.handle, { backend: data.backend }).circuitBreaker(NAME);
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await b.call(work, { timeoutMs: CALL_TIMEOUT_MS });
      },
      report,
    };
  }
  if (id === 'breaker/timeout-cockatiel') {
    const policy = wrap(
      cockatielBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
      cockatielTimeout(CALL_TIMEOUT_MS, TimeoutStrategy.Cooperative),
    );
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await policy.execute(work);
      },
      report,
    };
  }
  if (id === 'breaker/timeout-opossum') {
    const cb = new CircuitBreakerOpossum(work, { timeout: CALL_TIMEOUT_MS, resetTimeout: 30_000 });
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await cb.fire();
      },
      report() {
        const successes = cb.stats.successes;
        cb.shutdown();
        return { executed, successes };
      },
    };
  }
  if (id === 'breaker/cockatiel' || id === 'breaker/cockatiel-timed') {
    const policy = cockatielBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
    // cockatiel reads the clock around a call only when someone listens for durations.
    let totalMs = 0;
    if (id === 'breaker/cockatiel-timed') policy.onSuccess(({ duration }) => (totalMs += duration));
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await policy.execute(work);
      },
      report,
    };
  }
  if (id === 'breaker/opossum') {
    // Defaults except the per-call timeout: this breaker's call() has none, and opossum's
    // would add a timer per call. errorThresholdPercentage etc. do not matter here: every
    // call succeeds.
    const cb = new CircuitBreakerOpossum(work, { timeout: false, resetTimeout: 30_000 });
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await cb.fire();
      },
      report() {
        const successes = cb.stats.successes;
        // Its rolling-window interval would keep the worker alive.
        cb.shutdown();
        return { executed, successes };
      },
    };
  }
  throw new Error(`unknown case ${id}`);
}

export async function verify(id, data, totalOps, reports) {
  if (id === 'breaker/guard-mutex') {
    const u32 = new Uint32Array(data.sab);
    const got = [read64(u32, 4), read64(u32, 6), read64(u32, 8)];
    const want = [totalOps, totalOps, totalOps * DURATION];
    if (got.join() !== want.join()) throw new Error(`${id}: counted ${got}, expected ${want}`);
    return;
  }
  if (id === 'breaker/opossum' || id === 'breaker/timeout-opossum') {
    const { executed, successes } = reports[0];
    if (executed !== totalOps) throw new Error(`${id}: ran ${executed}, expected ${totalOps}`);
    // opossum's stats are a rolling window: they may have dropped old buckets.
    if (successes > totalOps) throw new Error(`${id}: opossum counted ${successes} successes of ${totalOps}`);
    return;
  }
  if (!id.startsWith('breaker/guard-') && reports[0] !== totalOps) {
    throw new Error(`${id}: ran ${reports[0]}, expected ${totalOps}`);
  }
  if (id.startsWith('breaker/guard-') || id.startsWith('breaker/call-') || id.startsWith('breaker/timeout-call-')) {
    const m = StatsRegistry.attach(data.handle, { backend: data.backend }).circuitBreaker(NAME).metricsBigInt();
    const n = BigInt(totalOps);
    const ok =
      m.total_calls === n &&
      m.success_count === n &&
      m.rejected_calls === 0n &&
      m.current_state === 'Closed' &&
      (id.startsWith('breaker/guard-') ? m.total_duration_nanos === n * BigInt(DURATION) : true);
    if (!ok) throw new Error(`${id}: breaker shows ${JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? String(v) : v))} after ${totalOps} operations`);
  }
}

export function targets(results) {
  const ns = (id, t = 1) => results.find((r) => r.id === id && r.threads === t)?.median;
  const out = [];
  const push = (name, measured, target, pass) => out.push({ name, measured, target, pass });
  for (const b of ['wasm', 'js']) {
    const g = ns(`breaker/guard-${b}`);
    if (g) push(`breaker sync guard (permit + record), ${b === 'wasm' ? 'Wasm' : 'JS'} backend, 1 thread`, `${g.toFixed(1)} ns`, '≤ 40 ns', g <= 40);
  }
  // Issue 11: the pure-JS guard within 1.3x of the Wasm one (same repetition).
  const gWasm = ns('breaker/guard-wasm');
  const gJs = ns('breaker/guard-js');
  if (gWasm && gJs) out.push({ name: 'breaker sync guard, JS backend vs Wasm backend, 1 thread', target: '≤ 1.3×', value: gJs / gWasm, measured: `${(gJs / gWasm).toFixed(2)}×`, pass: gJs / gWasm <= 1.3 });
  const bare = ns('breaker/await-bare');
  const call = ns('breaker/call-wasm');
  const cock = ns('breaker/cockatiel');
  const opo = ns('breaker/opossum');
  if (bare && call && cock) {
    const ours = call - bare;
    const theirs = cock - bare;
    push('call(async fn) overhead over bare await vs cockatiel execute overhead', `${ours.toFixed(0)} vs ${theirs.toFixed(0)} ns (${(ours / theirs).toFixed(2)}×)`, '≤ 0.33×', ours <= theirs / 3);
  }
  if (bare && call && opo) {
    const ours = call - bare;
    const theirs = opo - bare;
    push('call(async fn) overhead over bare await vs opossum fire overhead', `${ours.toFixed(0)} vs ${theirs.toFixed(0)} ns (${(ours / theirs).toFixed(2)}×)`, '≤ 0.10×', ours <= theirs / 10);
  }
  const cockTimed = ns('breaker/cockatiel-timed');
  if (bare && call && cockTimed) {
    const ours = call - bare;
    const theirs = cockTimed - bare;
    push('call(async fn) overhead over bare await vs cockatiel execute with its timing listener', `${ours.toFixed(0)} vs ${theirs.toFixed(0)} ns (${(ours / theirs).toFixed(2)}×)`, '≤ 0.65×', ours <= theirs * 0.65);
  }
  const tBare = ns('breaker/timeout-await-bare');
  const tCall = ns('breaker/timeout-call-wasm');
  const tCock = ns('breaker/timeout-cockatiel');
  const tOpo = ns('breaker/timeout-opossum');
  if (tBare && tCall && tCock) {
    const ours = tCall - tBare;
    const theirs = tCock - tBare;
    push('call(fn, { timeoutMs }) overhead vs cockatiel wrap(breaker, timeout) overhead', `${ours.toFixed(0)} vs ${theirs.toFixed(0)} ns (${(ours / theirs).toFixed(2)}×)`, '≤ 0.5×', ours <= theirs * 0.5);
  }
  if (tBare && tCall && tOpo) {
    const ours = tCall - tBare;
    const theirs = tOpo - tBare;
    push('call(fn, { timeoutMs }) overhead vs opossum fire (timeout on) overhead', `${ours.toFixed(0)} vs ${theirs.toFixed(0)} ns (${(ours / theirs).toFixed(2)}×)`, '≤ 0.25×', ours <= theirs * 0.25);
  }
  return out;
}
