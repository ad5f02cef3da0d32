// collect callbacks and scrapes in other threads: the defining thread's timer
// (collectIntervalMs) keeps the shared value fresh for a scrape anywhere; without it, a
// scrape elsewhere sees the last value the defining thread wrote.
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';

const once = (w: Worker, want: string) => new Promise<void>((resolve, reject) => {
  const on = (m: unknown) => {
    if (m === want) {
      w.off('message', on);
      resolve();
    }
  };
  w.on('message', on);
  w.once('error', reject);
});

async function scrapeUntil(prom: Registry, line: string): Promise<string> {
  let text = '';
  // Bounded: 5 s of 10 ms polls. The assertion is on the value, not on how long it took.
  for (let i = 0; i < 500 && !text.includes(line); i++) {
    text = await prom.metrics();
    if (!text.includes(line)) await new Promise((r) => setTimeout(r, 10));
  }
  return text;
}

describe.each(BACKENDS)('collect callbacks of a worker thread (%s backend)', (backend) => {
  it("a scrape in the main thread sees the worker's timer-refreshed value, and the last value it wrote without a timer", async () => {
    const registry = StatsRegistry.create({ backend });
    const source = new SharedArrayBuffer(4);
    const src = new Int32Array(source);
    Atomics.store(src, 0, 7);
    const w = new Worker(new URL('./workers/collect-worker.mjs', import.meta.url), { workerData: { handle: registry.handle, backend, source } });
    try {
      await once(w, 'ready');
      const prom = new Registry();
      registerAtomicStats(registry, { register: prom });
      let text = await prom.metrics();
      expect(text).toContain('queue_depth 7');
      expect(text).toContain('queue_depth_scraped 7');
      Atomics.store(src, 0, 42);
      // The main thread's scrapes do not run the worker's callbacks; its timer does.
      text = await scrapeUntil(prom, 'queue_depth 42');
      expect(text).toContain('queue_depth 42');
      expect(text).toContain('queue_depth_scraped 7');
      // The worker's own collection refreshes the other one.
      w.postMessage('collect');
      await once(w, 'collected');
      expect(await prom.metrics()).toContain('queue_depth_scraped 42');
    } finally {
      w.postMessage('stop');
      await w.terminate();
    }
  });
});
