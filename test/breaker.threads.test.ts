/*
 * One breaker, several real worker_threads. Workers run the built package
 * (test/workers/breaker-worker.mjs imports dist/); time comes from a fake clock in a
 * SharedArrayBuffer that every thread reads, so nothing here depends on timing.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry, type CircuitBreakerConfig, type CircuitBreakerMetricsBigInt, type StateChange } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';
import { nextEvent } from './helpers/breaker.js';

const WORKER = new URL('./workers/breaker-worker.mjs', import.meta.url);
const DIST = new URL('../dist/index.js', import.meta.url);

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

function sharedClock(start: number): { sab: SharedArrayBuffer; set(ms: number): void; read: () => number } {
  const sab = new SharedArrayBuffer(8);
  const i32 = new Int32Array(sab);
  Atomics.store(i32, 0, start);
  return { sab, set: (ms) => Atomics.store(i32, 0, ms), read: () => Atomics.load(i32, 0) };
}

function start(workerData: Record<string, unknown>): Worker {
  const w = new Worker(WORKER, { workerData });
  live.push(w);
  return w;
}

function finished(w: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.on('message', (m: { done?: boolean }) => {
      if (m.done) resolve();
    });
  });
}

/** A worker driven one operation at a time. */
class Remote {
  private id = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(e: { event: StateChange; name: string }) => void>();
  readonly ready: Promise<unknown>;

  constructor(readonly worker: Worker) {
    this.ready = new Promise((resolve) => {
      worker.on('message', (m: { id?: number; ready?: boolean; result?: unknown; error?: { message: string }; event?: StateChange; name?: string }) => {
        if (m.ready) resolve(m);
        else if (m.event) for (const l of this.listeners) l(m as { event: StateChange; name: string });
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id)!;
          this.pending.delete(m.id);
          if (m.error) p.reject(new Error(m.error.message));
          else p.resolve(m.result);
        }
      });
    });
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
    });
  }

  static async start(handle: unknown, backend: BackendKind, clock: SharedArrayBuffer): Promise<Remote> {
    const r = new Remote(start({ handle, backend, clock, mode: 'rpc' }));
    await r.ready;
    return r;
  }

  op<T = unknown>(op: string, args: Record<string, unknown>): Promise<T> {
    const id = this.id++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  onEvent(l: (e: { event: StateChange; name: string }) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

const WORKER_BACKENDS: [string, BackendKind[]][] = [
  ['wasm', ['wasm', 'wasm', 'wasm', 'wasm']],
  ['js', ['js', 'js', 'js', 'js']],
  ['auto', ['auto', 'auto', 'auto', 'auto']],
  ['wasm and js mixed', ['wasm', 'js', 'wasm', 'js']],
  ['auto, wasm and js mixed', ['auto', 'wasm', 'js', 'auto']],
];

describe.each(WORKER_BACKENDS)('4 worker threads, %s', (_label, backends) => {
  it('failures recorded at once on a Closed breaker open it exactly once, with exact counts', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(5000);
    const config: CircuitBreakerConfig = { failureThreshold: 10, timeoutMs: 1000, successThreshold: 2 };
    const rounds = 20;
    const perRound = 300;
    const names = Array.from({ length: rounds }, (_, i) => `fail-${i}`);
    const sync = new SharedArrayBuffer(16);
    const workers = backends.map((backend) =>
      start({ handle: registry.handle, backend, clock: clock.sab, mode: 'failures', names, config, perRound, parties: backends.length, sync }),
    );
    await Promise.all(workers.map(finished));
    for (const name of names) {
      const m = registry.circuitBreaker(name, config).metricsBigInt();
      expect(m.times_opened).toBe(1n);
      expect(m.current_state).toBe('Open');
      expect(m.failure_count).toBe(BigInt(backends.length * perRound));
      expect(m.total_calls).toBe(BigInt(backends.length * perRound));
      expect(m.total_duration_nanos).toBe(BigInt(backends.length * perRound * 7));
      expect(m.consecutive_failures).toBe(10n);
    }
  });

  it('half-open race: admitted probes never exceed successThreshold (240 trials)', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(10_000);
    const ks = [1, 2, 3];
    const configs = ks.map((k) => ({ failureThreshold: 1, timeoutMs: 100, successThreshold: k }));
    const names = ks.map((k) => `race-k${k}`);
    const trials = 240;
    const attempts = 3;
    const sync = new SharedArrayBuffer(16);
    const results = new SharedArrayBuffer(trials * 8 * 4);
    const workers = backends.map((backend, index) =>
      start({ handle: registry.handle, backend, clock: clock.sab, mode: 'race', names, configs, attempts, index, trials, parties: backends.length, sync, results }),
    );
    await Promise.all(workers.map(finished));
    const resultsI32 = new Int32Array(results);
    const rejected = [0, 0, 0];
    for (let t = 0; t < trials; t++) {
      const k = ks[t % ks.length]!;
      let admitted = 0;
      for (let i = 0; i < backends.length; i++) admitted += resultsI32[t * 8 + i]!;
      expect(admitted, `trial ${t}, k = ${k}`).toBeLessThanOrEqual(k);
      // Nobody records a result, so every slot stays taken: exactly k get in.
      expect(admitted, `trial ${t}, k = ${k}`).toBe(k);
      rejected[t % ks.length]! += backends.length * attempts - k;
    }
    names.forEach((name, i) => {
      const m = registry.circuitBreaker(name, configs[i]).metricsBigInt();
      expect(m.current_state).toBe('HalfOpen');
      expect(m.rejected_calls).toBe(BigInt(rejected[i]!));
      expect(m.times_opened).toBe(BigInt(trials / ks.length));
    });
  });

  it('a failure in half-open reopens the breaker for every thread', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(1000);
    const config = { failureThreshold: 2, timeoutMs: 50, successThreshold: 2 };
    const remotes = await Promise.all(backends.map((b) => Remote.start(registry.handle, b, clock.sab)));
    await Promise.all(remotes.map((r) => r.op('open', { name: 'db', config })));
    const [a, b, c, d] = remotes as [Remote, Remote, Remote, Remote];
    await a.op('failure', { name: 'db', d: 1 });
    await b.op('failure', { name: 'db', d: 1 });
    expect(await Promise.all(remotes.map((r) => r.op('state', { name: 'db' })))).toEqual(['Open', 'Open', 'Open', 'Open']);
    expect(await c.op('acquire', { name: 'db' })).toBe(false);
    clock.set(1050);
    expect(await c.op('acquire', { name: 'db' })).toBe(true); // the probe, in c
    expect(await d.op('acquire', { name: 'db' })).toBe(true); // second probe slot, in d
    expect(await Promise.all(remotes.map((r) => r.op('state', { name: 'db' })))).toEqual(['HalfOpen', 'HalfOpen', 'HalfOpen', 'HalfOpen']);
    await d.op('success', { name: 'db', d: 1 });
    await c.op('failure', { name: 'db', d: 1 });
    expect(await Promise.all(remotes.map((r) => r.op('state', { name: 'db' })))).toEqual(['Open', 'Open', 'Open', 'Open']);
    expect(await Promise.all(remotes.map((r) => r.op('acquire', { name: 'db' })))).toEqual([false, false, false, false]);
    const m = await a.op<CircuitBreakerMetricsBigInt>('metrics', { name: 'db' });
    expect(m).toMatchObject({ times_opened: 2n, half_open_calls: 0n, total_calls: 4n, failure_count: 3n, success_count: 1n, rejected_calls: 5n });
    // The timeout restarted at the reopening, in every thread.
    clock.set(1099);
    expect(await b.op('acquire', { name: 'db' })).toBe(false);
    clock.set(1100);
    expect(await b.op('acquire', { name: 'db' })).toBe(true);
    expect(registry.circuitBreaker('db', config).state).toBe('HalfOpen');
  });
});

describe("a 'js' thread and a 'wasm' thread on one breaker", () => {
  it('take turns through a whole cycle, each seeing what the other did', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(0);
    const config = { failureThreshold: 3, timeoutMs: 10, successThreshold: 2 };
    const js = await Remote.start(registry.handle, 'js', clock.sab);
    const wasm = await Remote.start(registry.handle, 'wasm', clock.sab);
    await js.op('open', { name: 'x', config });
    await wasm.op('open', { name: 'x', config });
    await wasm.op('failure', { name: 'x', d: 5 });
    await js.op('failure', { name: 'x', d: 5 });
    await wasm.op('success', { name: 'x', d: 5 }); // resets the consecutive failures
    await js.op('failure', { name: 'x', d: 5 });
    await wasm.op('failure', { name: 'x', d: 5 });
    expect(await js.op('state', { name: 'x' })).toBe('Closed');
    await js.op('failure', { name: 'x', d: 5 }); // third in a row: opens
    expect(await wasm.op('state', { name: 'x' })).toBe('Open');
    expect(await wasm.op('acquire', { name: 'x' })).toBe(false);
    clock.set(10);
    expect(await js.op('acquire', { name: 'x' })).toBe(true);
    expect(await wasm.op('acquire', { name: 'x' })).toBe(true);
    expect(await wasm.op('acquire', { name: 'x' })).toBe(false);
    expect(await js.op('acquire', { name: 'x' })).toBe(false);
    await js.op('success', { name: 'x', d: 5 });
    expect(await wasm.op('state', { name: 'x' })).toBe('HalfOpen');
    await wasm.op('success', { name: 'x', d: 5 });
    expect(await js.op('state', { name: 'x' })).toBe('Closed');
    const expected = {
      total_calls: 8n,
      success_count: 3n,
      failure_count: 5n,
      consecutive_failures: 0n,
      half_open_calls: 0n,
      total_duration_nanos: 40n,
      current_state: 'Closed',
      average_duration_nanos: 5n,
      rejected_calls: 3n,
      times_opened: 1n,
    };
    expect(await js.op('metrics', { name: 'x' })).toMatchObject(expected);
    expect(await wasm.op('metrics', { name: 'x' })).toMatchObject(expected);
    expect(registry.circuitBreaker('x', config).metricsBigInt()).toMatchObject(expected);
  });

  it('hammer one breaker concurrently and agree on exact totals', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(0);
    // Thresholds high enough that it never opens: every call is admitted and recorded.
    const config = { failureThreshold: 100, timeoutMs: 10, successThreshold: 2 };
    const remotes = await Promise.all((['js', 'wasm', 'js', 'wasm'] as const).map((b) => Remote.start(registry.handle, b, clock.sab)));
    await Promise.all(remotes.map((r) => r.op('open', { name: 'h', config })));
    const n = 30_000;
    await Promise.all(remotes.map((r) => r.op('mixed', { name: 'h', n })));
    // Per worker: i % 3 == 0 failures (duration i), the rest successes (duration i).
    const failures = Math.ceil(n / 3);
    const m = registry.circuitBreaker('h', config).metricsBigInt();
    expect(m.total_calls).toBe(BigInt(4 * n));
    expect(m.failure_count).toBe(BigInt(4 * failures));
    expect(m.success_count).toBe(BigInt(4 * (n - failures)));
    expect(m.total_duration_nanos).toBe(BigInt(4 * ((n * (n - 1)) / 2)));
    expect(m.times_opened).toBe(0n);
    expect(m.current_state).toBe('Closed');
  });
});

describe('state-change notification across threads', () => {
  it('a change made in a worker reaches a listener in the main thread, and the reverse', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const clock = sharedClock(0);
    const config = { failureThreshold: 1, timeoutMs: 10, successThreshold: 1 };
    const main = registry.circuitBreaker('n', config, { clock: clock.read });
    const wasm = await Remote.start(registry.handle, 'wasm', clock.sab);
    const js = await Remote.start(registry.handle, 'js', clock.sab);
    await wasm.op('open', { name: 'n', config });
    await js.op('open', { name: 'n', config });

    let next = nextEvent<StateChange>((l) => main.onStateChange(l));
    await wasm.op('failure', { name: 'n', d: 1 });
    expect(await next).toEqual({ state: 'Open', previous: 'Closed' });

    next = nextEvent<StateChange>((l) => main.onStateChange(l));
    clock.set(10);
    expect(await js.op('acquire', { name: 'n' })).toBe(true);
    expect(await next).toEqual({ state: 'HalfOpen', previous: 'Open' });

    await js.op('watch', { name: 'n' });
    await wasm.op('watch', { name: 'n' });
    const inJs = nextEvent<{ event: StateChange }>((l) => js.onEvent(l));
    const inWasm = nextEvent<{ event: StateChange }>((l) => wasm.onEvent(l));
    next = nextEvent<StateChange>((l) => main.onStateChange(l));
    main.recordSuccess(1);
    expect(await next).toEqual({ state: 'Closed', previous: 'HalfOpen' });
    expect((await inJs).event).toEqual({ state: 'Closed', previous: 'HalfOpen' });
    expect((await inWasm).event).toEqual({ state: 'Closed', previous: 'HalfOpen' });
    await js.op('unwatch', { name: 'n' });
    await wasm.op('unwatch', { name: 'n' });
  });

  it('a listener does not keep a process alive', () => {
    const script = `
      import { StatsRegistry } from ${JSON.stringify(DIST.href)};
      const b = StatsRegistry.create().circuitBreaker('alive');
      b.onStateChange(() => {});
      const it = b.stateChanges();
      it.next();
      console.log('subscribed');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('subscribed');
  });

  it('a worker with a listener ends on its own', async () => {
    const script = `
      const { workerData } = require('node:worker_threads');
      import(${JSON.stringify(DIST.href)}).then(({ StatsRegistry }) => {
        const r = StatsRegistry.attach(workerData);
        r.circuitBreaker('w').onStateChange(() => {});
      });
    `;
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const w = new Worker(script, { eval: true, workerData: registry.handle });
    live.push(w);
    const code = await new Promise<number>((resolve, reject) => {
      w.once('exit', resolve);
      w.once('error', reject);
    });
    expect(code).toBe(0);
  });
});

