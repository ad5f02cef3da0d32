import { Worker } from 'node:worker_threads';

export const BACKENDS = ['auto', 'wasm', 'js'] as const;

/**
 * Starts `count` workers running `script` (a .mjs under test/workers/), waits until all of
 * them are ready, releases them together through a shared start flag, and resolves with
 * what each one posts when done. A worker that fails rejects the whole run.
 */
export async function runWorkers<R = unknown>(
  script: string,
  count: number,
  data: (index: number) => Record<string, unknown>,
  transfer: (index: number, d: Record<string, unknown>) => unknown[] = () => [],
): Promise<R[]> {
  const start = new Int32Array(new SharedArrayBuffer(4));
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<R>[] = [];
  for (let i = 0; i < count; i++) {
    const d = { ...data(i), start, index: i };
    const w = new Worker(new URL(`../workers/${script}`, import.meta.url), {
      workerData: d,
      transferList: transfer(i, d) as never[],
    });
    workers.push(w);
    ready.push(
      new Promise((resolve, reject) => {
        w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`unexpected first message ${String(m)}`))));
        w.once('error', reject);
      }),
    );
  }
  await Promise.all(ready);
  for (const w of workers) {
    done.push(
      new Promise<R>((resolve, reject) => {
        w.once('message', (m) => resolve(m as R));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
      }),
    );
  }
  Atomics.store(start, 0, 1);
  Atomics.notify(start, 0);
  try {
    return await Promise.all(done);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
