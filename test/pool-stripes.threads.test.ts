import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultStripes } from '../src/layout.js';
import { BACKENDS } from './helpers/backends.js';
import { runOk } from './helpers/processes.js';

// A real piscina pool on a registry, in a process of its own (test/fixtures/pool-stripes):
// the pool's threads all start, then every one's task is cancelled (piscina terminates the
// threads) and as many new threads start while the main thread is busy. The new threads
// attach before the main thread has handled the 'exit' events that hand the old threads'
// stripes back, so for that moment the registry holds the main thread's stripe, the
// stopped threads' and the new ones': 1 + 2 × maxThreads.

interface Report {
  stripes: number;
  maxThreads: number;
  usage: { stripes: number; attachments: number; attachmentsWithoutStripe: number; slotsInUse: number };
  done: number;
  jobs: number;
}

async function pool(backend: string, maxThreads: number | 'default', stripes: number | 'default'): Promise<Report> {
  const { stdout, stderr } = await runOk(process.execPath, ['test/fixtures/pool-stripes/main.mjs', backend, String(maxThreads), String(stripes), 'cancel'], { timeoutMs: 60_000 });
  if (stderr !== '') throw new Error(`stderr: ${stderr}`);
  return JSON.parse(stdout) as Report;
}

/** The stripes a registry must have for a pool of `maxThreads` that replaces its threads, per docs/worker-pools.md. */
const forPool = (maxThreads: number): number => 2 ** Math.ceil(Math.log2(2 * maxThreads + 1));

describe.concurrent('stripes for a piscina pool whose threads are replaced', () => {
  it.each(BACKENDS)('%s: piscina\'s default pool plus the main thread never goes without a stripe on the default stripe count', async (backend) => {
    const r = await pool(backend, 'default', 'default');
    expect(r.stripes).toBe(defaultStripes(availableParallelism()));
    // piscina's default size: 1.5 threads per core.
    expect(r.maxThreads).toBe(Math.ceil(availableParallelism() * 1.5));
    // The pool started, lost and restarted every thread ...
    expect(r.usage.attachments).toBeGreaterThanOrEqual(1 + 2 * r.maxThreads);
    // ... and every attachment had a stripe of its own; every job counted, every stripe back.
    expect(r.usage.attachmentsWithoutStripe).toBe(0);
    expect(r.done).toBe(r.jobs);
    expect(r.usage.slotsInUse).toBe(1);
  }, 120_000);

  it('without room for the replacements, each of them goes without a stripe (still exact)', async () => {
    // 4 stripes: the pool plus the main thread on a 2-core machine, the default before.
    const r = await pool('auto', 'default', 4);
    expect(r.usage.attachmentsWithoutStripe).toBe(Math.max(0, 1 + 2 * r.maxThreads - 4));
    expect(r.usage.attachmentsWithoutStripe).toBeGreaterThan(0);
    expect(r.done).toBe(r.jobs);
  }, 120_000);

  it('a pool of another size (maxThreads: 4) on the stripes docs/worker-pools.md gives it', async () => {
    const maxThreads = 4;
    const r = await pool('auto', maxThreads, forPool(maxThreads));
    expect(r.maxThreads).toBe(maxThreads);
    expect(r.usage.attachments).toBeGreaterThanOrEqual(1 + 2 * maxThreads);
    expect(r.usage.attachmentsWithoutStripe).toBe(0);
    expect(r.done).toBe(r.jobs);
  }, 120_000);
});
