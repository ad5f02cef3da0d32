// What every check of the cross-runtime suite shares. Each check is a plain script that
// imports the built package by name ('atomic-stats', the repository's own package.json
// resolves it to dist/), runs under whichever runtime started it, and exits non-zero with
// the failed assertion when something is wrong.
import { Worker } from 'node:worker_threads';

export const RUNTIME = typeof process.versions.bun === 'string' ? 'bun' : typeof process.versions.deno === 'string' ? 'deno' : 'node';
export const BACKENDS = ['auto', 'wasm', 'js'];

/**
 * Whether the package hands back the stripe of a worker that was terminated. On Deno it
 * does not (docs/worker-pools.md): Deno's `terminate()` emits 'exit' before the thread has
 * stopped (a thread in a synchronous loop runs on) and leaves the worker's own workers
 * running, so no 'exit' event proves that the worker can no longer write its stripe.
 */
export const HANDS_BACK_TERMINATED = RUNTIME !== 'deno';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `cond` until it holds; throws naming `what` after `ms`. */
export async function until(cond, what, ms = 20_000) {
  for (const end = Date.now() + ms; !(await cond()); ) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * A worker on `url` with its messages queued for `next()`. `exited` resolves with the exit
 * code; an 'error' event rejects `next()`. The 'exit' listener is attached at once, so a
 * worker that ends before anyone waits for it is still seen to end.
 */
export function start(url, workerData) {
  const worker = new Worker(url, { workerData });
  const queue = [];
  const waiting = [];
  worker.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const failed = new Promise((_, reject) => worker.once('error', reject));
  failed.catch(() => {});
  return {
    worker,
    exited,
    next: () => Promise.race([queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)), failed]),
  };
}

/** A start flag in shared memory: workers block on `wait(flag)` until the main thread calls `go()`. */
export function startFlag() {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  return {
    flag,
    go() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
  };
}
export const waitForStart = (flag) => Atomics.wait(flag, 0, 0);

/** Spins until `cond`, napping 1 ms now and then so that spinning threads on 2 cores let the others run. */
export function spinUntil(cond) {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let spins = 1; !cond(); spins++) if (spins % 20_000 === 0) Atomics.wait(nap, 0, 0, 1);
}
