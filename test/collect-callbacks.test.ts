// prom-client's collect callbacks, in the thread that defined them: run before every
// collection of that thread (Prometheus and OpenTelemetry scrapes alike), `this` the
// metric; failures never fail a scrape; bad options change nothing; close() drops them.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { atomicStatsMetricProducer } from '../src/opentelemetry.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected } from './helpers/metrics.js';

afterEach(() => vi.restoreAllMocks());

describe.each(BACKENDS)('collect callbacks (%s backend)', (backend) => {
  it('a gauge set by its collect callback at every Prometheus scrape of this thread', async () => {
    const r = StatsRegistry.create({ backend });
    const queue: number[] = [];
    const g = r.gauge({
      name: 'queue_length',
      help: 'Jobs waiting.',
      collect() {
        this.set(queue.length);
      },
    });
    let calls = 0;
    const c = r.counter({
      name: 'scrapes_total',
      help: 'Scrapes.',
      labelNames: ['by'],
      collect() {
        calls++;
        this.inc({ by: 'prom' });
      },
    });
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    queue.push(1, 2, 3);
    expect(await prom.metrics()).toContain('queue_length 3');
    queue.pop();
    const text = await prom.metrics();
    expect(text).toContain('queue_length 2');
    expect(text).toMatch(/scrapes_total\{by="prom"\} [1-9]/);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect((await g.get()).values).toEqual([{ labels: {}, value: 2 }]);
    expect(c.labelNames).toEqual(['by']);
  });

  it('the OpenTelemetry producer runs them too', async () => {
    const r = StatsRegistry.create({ backend });
    let depth = 5;
    r.gauge({ name: 'depth', help: 'D.', collect() { this.set(depth); } });
    const producer = atomicStatsMetricProducer(r, { include: 'all' });
    const value = async () => {
      const { resourceMetrics } = await producer.collect();
      const m = resourceMetrics.scopeMetrics[0]!.metrics.find((x) => x.descriptor.name === 'depth')!;
      return m.dataPoints[0]!.value;
    };
    expect(await value()).toBe(5);
    depth = 9;
    expect(await value()).toBe(9);
  });

  it('a callback that throws or rejects is a process warning; the scrape and the other callbacks go on', async () => {
    const warnings: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((w: string, o?: { code?: string }) => {
      if (o?.code === 'ATOMIC_STATS_COLLECT_CALLBACK_FAILED') warnings.push(String(w));
    }) as typeof process.emitWarning);
    const r = StatsRegistry.create({ backend });
    r.gauge({ name: 'bad', help: 'B.', collect() { throw new Error(`boom ${backend}`); } });
    r.gauge({ name: 'bad_async', help: 'B.', async collect() { throw new Error(`later ${backend}`); } });
    r.gauge({ name: 'good', help: 'G.', collect() { this.set(1); } });
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    const text = await prom.metrics();
    expect(text).toContain('good 1');
    expect(text).toContain('bad 0');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(warnings.some((w) => w.includes(`boom ${backend}`))).toBe(true);
    expect(warnings.some((w) => w.includes(`later ${backend}`))).toBe(true);
  });

  it('bad collect options are InvalidOptionsError and change nothing', () => {
    const r = StatsRegistry.create({ backend });
    for (const bad of [{ collect: 5 }, { collectIntervalMs: 100 }, { collect() {}, collectIntervalMs: 5 }, { collect() {}, collectIntervalMs: 1.5 }, { collect() {}, collectIntervalMs: '100' }]) {
      expectRejected(r, () => r.gauge({ name: 'g', help: 'G.', ...bad } as never), InvalidOptionsError);
    }
  });

  it("close() drops the callbacks registered through that object; another object's collection no longer runs them", () => {
    const a = StatsRegistry.create({ backend });
    const b = StatsRegistry.attach(a.handle, { backend });
    let calls = 0;
    a.gauge({ name: 'g', help: 'G.', collect() { calls++; } });
    b.collect();
    expect(calls).toBe(1);
    a.close();
    b.collect();
    expect(calls).toBe(1);
  });
});
