/*
 * Child processes and bounded waits for the tests.
 *
 * A test's own timeout does not stop what the test started: when it fires, vitest fails the
 * test and runs the afterEach hooks, while the test's promise chain (a poll loop, a fetch, a
 * child process) carries on. And a synchronous call (spawnSync, execFileSync) blocks the
 * event loop that timeout runs on, so without a `timeout` of its own nothing ends it. So
 * every wait here has its own bound and fails with an error that says what it waited for,
 * and every child process started through startProcess() is killed (SIGKILL) after the test
 * whatever happened: test/setup/children.ts does it after each test and after each file, so
 * a failure never leaves a `prometheus` (or any other child) running.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/** Awaits `p` for at most `ms` milliseconds; past that, rejects with an Error naming `what`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * fetch() with a bound on the whole exchange, the body included (undici's own default is
 * 300 s for the headers and 300 s more for the body). Resolves with the status and the body
 * as text; rejects with an Error naming `what` on a timeout or a network error.
 */
export async function fetchText(url: string, what: string, { ms = 10_000, init = {} }: { ms?: number; init?: RequestInit } = {}): Promise<{ status: number; headers: Headers; body: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' ? `no answer within ${ms} ms` : `${e.message}${(e.cause as Error | undefined)?.message ? ` (${(e.cause as Error).message})` : ''}`;
    throw new Error(`${what}: GET ${url}: ${why}`, { cause: err });
  }
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Started {
  readonly child: ChildProcess;
  /** What it printed so far (the last 64 KB of each stream). */
  stdout(): string;
  stderr(): string;
  /** Resolves when it has exited (or could not be started: then `error` is set). */
  readonly exit: Promise<Exit & { error?: Error }>;
  /**
   * Resolves once `test` holds of its output (stdout and stderr together), polled as it
   * arrives; rejects when it exits first or after `ms`, naming `what` and quoting the output.
   */
  waitFor<T>(test: (output: string) => T | undefined | false, ms: number, what: string): Promise<T>;
  /** Waits (at most `ms`) for it to exit on its own; rejects naming `what` otherwise. */
  exited(ms: number, what: string): Promise<Exit>;
  /** SIGKILL, then waits for its exit (bounded). Idempotent. */
  kill(): Promise<void>;
}

const LIVE = new Set<Started>();
const KEEP = 64 * 1024;
// A SIGKILLed process is reaped at once; this only bounds a process the kernel cannot
// stop (one in uninterruptible sleep), so that even then the hook ends, with an error.
const KILL_WAIT_MS = 10_000;
const CLOSE_WAIT_MS = 2000;

export interface ProcessOptions extends Omit<SpawnOptions, 'stdio' | 'detached'> {
  /** Written to its stdin, which is then closed (otherwise stdin is ignored). */
  input?: string;
  /**
   * It starts processes of its own (a test runner with its workers): run it in a process
   * group of its own, and kill the whole group, leftovers of a normal exit included.
   */
  group?: boolean;
}

/**
 * Spawns `file` with stdout and stderr piped (stdin ignored unless `input` is given) and
 * tracks it until it exits: anything still running after the test is killed by
 * killChildren(). Never throws: a program that cannot be started resolves `exit` with
 * `error` set.
 */
export function startProcess(file: string, args: readonly string[], options: ProcessOptions = {}): Started {
  const { input, group = false, ...spawnOptions } = options;
  const child = spawn(file, args, { ...spawnOptions, detached: group, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const killAll = () => {
    if (!group || child.pid === undefined) return void child.kill('SIGKILL');
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* the group is gone already */
    }
  };
  let out = '';
  let err = '';
  let both = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-KEEP);
    both = (both + d).slice(-KEEP);
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-KEEP);
    both = (both + d).slice(-KEEP);
    notify();
  });
  if (input !== undefined) {
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  }
  const exit = new Promise<Exit & { error?: Error }>((resolve) => {
    // After 'exit', the streams' last data comes with 'close'. But 'close' waits for every
    // process holding the pipes, and a grandchild that inherited them (a program that
    // spawns one) can hold them for good: so 'close' is awaited for a moment only, then
    // the pipes are let go.
    child.once('exit', (code, signal) => {
      // Whatever it started and left behind goes with it.
      if (group) killAll();
      const late = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve({ code, signal });
      }, CLOSE_WAIT_MS);
      child.once('close', () => {
        clearTimeout(late);
        resolve({ code, signal });
      });
    });
    // It could not be spawned at all: no 'exit' comes. (Later errors, a failed kill or a
    // write to stdin after it exited, change nothing here.)
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  });
  let ended = false;
  void exit.then(() => {
    ended = true;
    LIVE.delete(started);
    notify();
  });
  const describeOutput = () => `\n--- output (last 4000 characters) ---\n${both.slice(-4000)}`;
  const started: Started = {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor<T>(test: (output: string) => T | undefined | false, ms: number, what: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = (f: () => void) => {
          listeners.delete(check);
          clearTimeout(timer);
          f();
        };
        const check = () => {
          const v = test(both);
          if (v !== undefined && v !== false) return done(() => resolve(v));
          if (ended) {
            void exit.then((e) => done(() => reject(new Error(`${file} ${e.error ? `could not be started (${e.error.message})` : `exited (code ${e.code}, signal ${e.signal})`} before ${what}${describeOutput()}`))));
          }
        };
        timer = setTimeout(() => done(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} from ${file}${describeOutput()}`))), ms);
        listeners.add(check);
        check();
      });
    },
    async exited(ms: number, what: string): Promise<Exit> {
      const e = await within(exit, ms, `${what} (${file} to exit)`).catch((error: Error) => {
        throw new Error(`${error.message}${describeOutput()}`);
      });
      if (e.error) throw new Error(`${file} could not be started: ${e.error.message}`, { cause: e.error });
      return e;
    },
    async kill(): Promise<void> {
      if (ended) return;
      killAll();
      await within(exit, KILL_WAIT_MS, `${file} (pid ${child.pid}) to exit after SIGKILL`);
    },
  };
  LIVE.add(started);
  return started;
}

/** Kills every child process started by startProcess() that is still running. */
export async function killChildren(): Promise<void> {
  const live = [...LIVE];
  const results = await Promise.allSettled(live.map((s) => s.kill()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new Error(failed.map((f) => String((f.reason as Error).message)).join('\n'));
}

/**
 * Runs a program to its end: killed (SIGKILL) after `timeoutMs`, in which case the result
 * says so. Never rejects for the program's own failure; rejects when it cannot be started.
 */
export async function runProcess(
  file: string,
  args: readonly string[],
  { timeoutMs, ...options }: ProcessOptions & { timeoutMs: number },
): Promise<Exit & { stdout: string; stderr: string; timedOut: boolean }> {
  const p = startProcess(file, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.kill().catch(() => {});
  }, timeoutMs);
  try {
    const e = await p.exit;
    if (e.error) throw new Error(`${file} could not be started: ${e.error.message}`, { cause: e.error });
    return { code: e.code, signal: e.signal, stdout: p.stdout(), stderr: p.stderr(), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * runProcess() for a program that must succeed: resolves with its output when it exits
 * with 0, rejects otherwise, saying how it ended (a timeout included) and what it printed.
 */
export async function runOk(file: string, args: readonly string[], options: ProcessOptions & { timeoutMs: number }): Promise<{ stdout: string; stderr: string }> {
  const r = await runProcess(file, args, options);
  if (r.code === 0 && r.signal === null) return { stdout: r.stdout, stderr: r.stderr };
  const how = r.timedOut ? `was killed after ${options.timeoutMs} ms (timeout)` : `exited with code ${r.code}, signal ${r.signal}`;
  throw Object.assign(new Error(`${file} ${args.join(' ')} ${how}\n--- stderr ---\n${r.stderr.slice(-4000)}`), { stdout: r.stdout, stderr: r.stderr, code: r.code });
}

/**
 * Runs every cleanup, newest first, each even when one before it failed, and empties the
 * list: the errors, in that order (a test's afterEach throws the first).
 */
export async function runCleanups(cleanups: (() => unknown)[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}
