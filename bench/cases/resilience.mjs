// "resilience limits" rows of BENCH.md: what the bulkhead and the rate limiter cost next
// to what they are compared with, in one run.
//
// 1. An uncontended permit: the bulkhead's tryAcquire + release against the breaker
//    guard's tryAcquire + recordSuccess (both on shared memory, 1 thread). verify() reads
//    the shared counts: one admission per operation, nothing refused, nothing held.
// 2. bulkhead.call(async fn) against cockatiel's bulkhead policy (execute) and a bare
//    await of the same function (the floor). Each counts the function's executions, and
//    verify() requires exactly one per operation (and, here, as many admissions).
// 3. A rate-limited grant (tryAcquire on a bucket whose rate is never reached: the
//    compare-and-swap of its word and the count) against a plain Atomics.add on shared
//    memory (the least a shared count costs). verify() requires one grant per operation.
import { bulkhead as cockatielBulkhead } from 'cockatiel';
import { StatsRegistry } from '../../dist/index.js';

const NAME = 'bench';
const PERMIT = 'resilience: uncontended permit (take + give back), 1 thread';
const CALL = 'resilience: bulkhead.call(async fn)';
const GRANT = 'resilience: rate-limited grant';

export const cases = [
  { id: 'resilience/breaker-guard', table: PERMIT, variant: 'breaker tryAcquire + recordSuccess (Wasm backend)', threads: [1], baseline: true },
  { id: 'resilience/bulkhead-guard', table: PERMIT, variant: 'bulkhead tryAcquire + release', threads: [1] },
  { id: 'resilience/await-bare', table: CALL, variant: 'bare await of the async fn (floor)', threads: [1], kind: 'tinybench', baseline: true },
  { id: 'resilience/bulkhead-call', table: CALL, variant: 'atomic-stats bulkhead.call()', threads: [1], kind: 'tinybench' },
  { id: 'resilience/cockatiel-bulkhead', table: CALL, variant: 'cockatiel bulkhead(10).execute', threads: [1], kind: 'tinybench' },
  { id: 'resilience/atomics-add', table: GRANT, variant: 'Atomics.add on shared memory (floor)', threads: [1], baseline: true },
  { id: 'resilience/limiter-grant', table: GRANT, variant: 'rate limiter tryAcquire (granted)', threads: [1] },
];

export async function setup(id) {
  if (id === 'resilience/atomics-add') return { sab: new SharedArrayBuffer(8) };
  if (id === 'resilience/await-bare' || id === 'resilience/cockatiel-bulkhead') return {};
  const registry = StatsRegistry.create({ backend: 'wasm', stripes: 64 });
  if (id === 'resilience/breaker-guard') registry.circuitBreaker(NAME);
  else if (id === 'resilience/limiter-grant') registry.rateLimiter(NAME, { tokensPerInterval: 1_000_000_000, intervalMs: 1, burst: 1_000_000_000 });
  else registry.bulkhead(NAME, { maxConcurrent: 10 });
  return { handle: registry.handle };
}

export async function prepare(id, data) {
  if (id === 'resilience/atomics-add') {
    const i32 = new Int32Array(data.sab);
    return {
      run(n) {
        for (let i = 0; i < n; i++) Atomics.add(i32, 0, 1);
      },
    };
  }
  if (id === 'resilience/breaker-guard') {
    const b = StatsRegistry.attach(data.handle, { backend: 'wasm' }).circuitBreaker(NAME);
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (b.tryAcquire()) b.recordSuccess(100);
      },
    };
  }
  if (id === 'resilience/bulkhead-guard') {
    const b = StatsRegistry.attach(data.handle, { backend: 'wasm' }).bulkhead(NAME);
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (b.tryAcquire()) b.release();
      },
    };
  }
  if (id === 'resilience/limiter-grant') {
    const l = StatsRegistry.attach(data.handle, { backend: 'wasm' }).rateLimiter(NAME);
    return {
      run(n) {
        for (let i = 0; i < n; i++) l.tryAcquire();
      },
    };
  }
  let executed = 0;
  const work = async () => ++executed;
  const report = () => executed;
  if (id === 'resilience/await-bare') {
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await work();
      },
      report,
    };
  }
  if (id === 'resilience/bulkhead-call') {
    const b = StatsRegistry.attach(data.handle, { backend: 'wasm' }).bulkhead(NAME);
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await b.call(work);
      },
      report,
    };
  }
  if (id === 'resilience/cockatiel-bulkhead') {
    const policy = cockatielBulkhead(10);
    return {
      async runAsync(n) {
        for (let i = 0; i < n; i++) await policy.execute(work);
      },
      report,
    };
  }
  throw new Error(`unknown case ${id}`);
}

export async function verify(id, data, totalOps, reports) {
  if (id === 'resilience/atomics-add') {
    const got = new Int32Array(data.sab)[0];
    if (got !== (totalOps | 0)) throw new Error(`${id}: added ${got}, expected ${totalOps}`);
    return;
  }
  if (id === 'resilience/await-bare' || id === 'resilience/cockatiel-bulkhead' || id === 'resilience/bulkhead-call') {
    if (reports[0] !== totalOps) throw new Error(`${id}: ran ${reports[0]}, expected ${totalOps}`);
    if (id !== 'resilience/bulkhead-call') return;
  }
  const r = StatsRegistry.attach(data.handle, { backend: 'wasm' });
  const n = BigInt(totalOps);
  if (id === 'resilience/breaker-guard') {
    const m = r.circuitBreaker(NAME).metricsBigInt();
    if (m.total_calls !== n || m.rejected_calls !== 0n) throw new Error(`${id}: breaker counted ${m.total_calls} calls, ${m.rejected_calls} rejected, of ${totalOps}`);
  } else if (id === 'resilience/limiter-grant') {
    const m = r.rateLimiter(NAME).metricsBigInt();
    if (m.granted !== n || m.refused !== 0n) throw new Error(`${id}: limiter granted ${m.granted}, refused ${m.refused}, of ${totalOps}`);
  } else {
    const m = r.bulkhead(NAME).metricsBigInt();
    if (m.admitted !== n || m.rejected !== 0n || m.active !== 0n) throw new Error(`${id}: bulkhead admitted ${m.admitted}, rejected ${m.rejected}, active ${m.active}, of ${totalOps}`);
  }
}
