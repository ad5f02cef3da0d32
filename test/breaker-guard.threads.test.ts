/*
 * The synchronous guard (tryAcquire + recordSuccess) from several real worker_threads on
 * one breaker, every backend and mixes of them: exact totals, with a duration that
 * carries out of the owned cells' 24-bit low part on every record; and workers terminated
 * in the middle of the loop, whose counts stay within the one guard that was in flight and
 * whose stripes new workers take over and count on exactly.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry, type BackendKind } from '../src/index.js';

const SCRIPT = new URL('./workers/guard-worker.mjs', import.meta.url);
const D = 2 ** 24 + 1; // one carry of total_duration_nanos per record
const CONFIG = { failureThreshold: 5, timeoutMs: 1000, successThreshold: 2 };

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

function start(workerData: Record<string, unknown>): { worker: Worker; first: Promise<{ slot: number; admitted?: number }> } {
  const worker = new Worker(SCRIPT, { workerData });
  live.push(worker);
  const first = new Promise<{ slot: number; admitted?: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return { worker, first };
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const MIXES: [string, BackendKind[]][] = [
  ['js', ['js', 'js', 'js', 'js']],
  ['auto', ['auto', 'auto', 'auto', 'auto']],
  ['js, auto and wasm mixed', ['js', 'auto', 'wasm', 'js']],
];

describe.each(MIXES)('guard from 4 worker threads, %s', (_label, backends) => {
  it('counts every guard exactly, carries included', async () => {
    const r = StatsRegistry.create({ stripes: 8, capacityBytes: 4 << 20 });
    const N = 20_000;
    const workers = backends.map((backend) => start({ mode: 'count', handle: r.handle, backend, name: 'g', config: CONFIG, count: N, d: D }));
    const reports = await Promise.all(workers.map((w) => w.first));
    expect(reports.map((m) => m.admitted)).toEqual(backends.map(() => N));
    // Every worker had a stripe of its own (none shared the shared stripe).
    expect(new Set(reports.map((m) => m.slot)).size).toBe(4);
    const m = r.circuitBreaker('g', CONFIG).metricsBigInt();
    const n = BigInt(4 * N);
    expect(m).toMatchObject({ total_calls: n, success_count: n, failure_count: 0n, rejected_calls: 0n, consecutive_failures: 0n, current_state: 'Closed', times_opened: 0n });
    expect(m.total_duration_nanos).toBe(n * BigInt(D));
  });

  it('workers terminated mid-loop leave at most the guard in flight; new workers continue on their stripes exactly', async () => {
    const r = StatsRegistry.create({ stripes: 4, capacityBytes: 4 << 20 });
    const b = r.circuitBreaker('g', CONFIG);
    const done = new SharedArrayBuffer(4 * 3);
    const doneView = new Int32Array(done);
    const spinners = [0, 1, 2].map((index) => start({ mode: 'spin', handle: r.handle, backend: backends[index], name: 'g', config: CONFIG, d: D, done, index }));
    expect(new Set((await Promise.all(spinners.map((s) => s.first))).map((m) => m.slot))).toEqual(new Set([1, 2, 3]));
    await until(() => doneView.every((x) => x > 3000), 'the spinners to count');
    await Promise.all(spinners.map((s) => s.worker.terminate()));
    await until(() => r.usage().slotsInUse === 1, 'the stripes of the terminated workers');
    const sum = BigInt(doneView.reduce((a, x) => a + x, 0));
    const left = b.metricsBigInt();
    // Each of the three kills may have caught one guard part-way: each counter is at least
    // the published count and at most three guards ahead of it, counted in whole units.
    for (const [value, unit] of [
      [left.total_calls, 1n],
      [left.success_count, 1n],
      [left.total_duration_nanos, BigInt(D)],
    ] as const) {
      expect(value % unit).toBe(0n);
      expect(value / unit).toBeGreaterThanOrEqual(sum);
      expect(value / unit).toBeLessThanOrEqual(sum + 3n);
    }
    expect(left).toMatchObject({ failure_count: 0n, rejected_calls: 0n, consecutive_failures: 0n, current_state: 'Closed' });
    // New workers take the freed stripes over and add exactly what they do.
    const N = 10_000;
    const next = [0, 1, 2].map((index) => start({ mode: 'count', handle: r.handle, backend: backends[index + 1], name: 'g', config: CONFIG, count: N, d: D }));
    expect(new Set((await Promise.all(next.map((s) => s.first))).map((m) => m.slot))).toEqual(new Set([1, 2, 3]));
    const after = b.metricsBigInt();
    expect(after.total_calls - left.total_calls).toBe(BigInt(3 * N));
    expect(after.success_count - left.success_count).toBe(BigInt(3 * N));
    expect(after.total_duration_nanos - left.total_duration_nanos).toBe(BigInt(3 * N) * BigInt(D));
  });
});
