// Real worker threads for the tests: each runs a plain .mjs script under test/workers (which
// imports the built package: worker threads cannot load .ts, so run `npm run build` after
// changing src/). A test file about threads is named *.threads.test.ts.
import { Worker } from 'node:worker_threads';
import { within } from './processes.js';

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

/** A start flag that every worker waits on, so their loops overlap for real. */
export function startFlag(): { sab: SharedArrayBuffer; release(): void } {
  const sab = new SharedArrayBuffer(8);
  const i32 = new Int32Array(sab);
  return {
    sab,
    release() {
      Atomics.store(i32, 0, 1);
      Atomics.notify(i32, 0);
    },
  };
}

export interface Started<T> {
  readonly workers: Worker[];
  /** Resolves with each worker's last message once every worker has exited. */
  readonly results: Promise<T[]>;
}

/**
 * Starts one worker per entry of `data` on a plain .mjs script under test/workers (which
 * imports the built package: worker threads cannot load .ts). Each worker must post one
 * message with its result before exiting; a worker that errors or exits without a
 * message rejects `results` unless `allowTerminated` is set, in which case its result is
 * `undefined`.
 */
export function startWorkers<T>(script: string, data: readonly unknown[], allowTerminated = false): Started<T> {
  const url = new URL(`../workers/${script}`, import.meta.url);
  const workers = data.map((workerData) => new Worker(url, { workerData }));
  const results = Promise.all(
    workers.map(
      (w) =>
        new Promise<T>((resolve, reject) => {
          let result: T | undefined;
          let got = false;
          w.on('message', (m: T) => {
            if ((m as unknown) === 'ready') return;
            result = m;
            got = true;
          });
          w.on('error', reject);
          w.on('exit', (code) => {
            if (got) resolve(result as T);
            else if (allowTerminated) resolve(undefined as T);
            else reject(new Error(`worker ${script} exited with code ${code} and no result`));
          });
        }),
    ),
  );
  return { workers, results };
}

/** Waits until at least `n` workers have posted a 'ready' message. */
export function readyCount(workers: Worker[], n = workers.length): Promise<void> {
  let ready = 0;
  return new Promise((resolve) => {
    for (const w of workers) {
      const onMessage = (m: unknown) => {
        if (m === 'ready') {
          w.off('message', onMessage);
          if (++ready === n) resolve();
        }
      };
      w.on('message', onMessage);
    }
  });
}

/** What killRounds runs: workers terminated at random points, round after round. */
export interface KillRounds {
  readonly rounds: number;
  readonly perRound: number;
  /** A .mjs under test/workers/; it gets `progress` (a SharedArrayBuffer of an i32 per worker) and `index` besides `data`, and stores its finished turns in progress[index]. */
  readonly script: string;
  readonly data: Record<string, unknown>;
  /** Each worker is terminated once it has finished 1 to this many turns (at random). */
  readonly maxTurns: number;
  /** Up to this many ms more after that (at random), so the termination lands anywhere in a turn (default 0). */
  readonly spinMs?: number;
  /** Called after each round's workers have exited: true when the round left an identity broken. */
  afterRound(): boolean;
}

/**
 * Rounds of `perRound` workers, each terminated at a random point of its loop, with every
 * wait bounded; the writers of each round take over the stripes the terminated writers of
 * the round before left. Resolves with the turns the workers finished and how many rounds
 * left an identity broken.
 */
export async function killRounds(k: KillRounds): Promise<{ turns: number; broken: number }> {
  const progress = new Int32Array(new SharedArrayBuffer(4 * k.perRound));
  let turns = 0;
  let broken = 0;
  for (let round = 0; round < k.rounds; round++) {
    progress.fill(0);
    const workers = Array.from(
      { length: k.perRound },
      (_, index) => new Worker(new URL(`../workers/${k.script}`, import.meta.url), { workerData: { ...k.data, progress: progress.buffer, index } }),
    );
    const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (let i = 0; i < k.perRound; i++) {
      const target = 1 + Math.floor(Math.random() * k.maxTurns);
      const deadline = Date.now() + 30_000;
      while (Atomics.load(progress, i) < target) {
        if (Date.now() > deadline) throw new Error(`worker ${i} of round ${round} did not reach ${target} turns in 30 s (at ${Atomics.load(progress, i)})`);
        await new Promise((r) => setImmediate(r));
      }
      const spin = Date.now() + Math.random() * (k.spinMs ?? 0);
      while (Date.now() < spin) await new Promise((r) => setImmediate(r));
      void workers[i]!.terminate();
    }
    await within(Promise.all(exited), 30_000, `the ${k.perRound} terminated workers of round ${round} to exit`);
    for (let i = 0; i < k.perRound; i++) turns += Atomics.load(progress, i);
    if (k.afterRound()) broken++;
  }
  return { turns, broken };
}
