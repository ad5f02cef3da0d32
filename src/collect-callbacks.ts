/*
 * prom-client's `collect` callbacks: `registry.gauge({ name, help, collect() { this.set(q.length) } })`.
 *
 * A callback is a function of the thread that defined it, and a scrape may be made by any
 * thread (serveMetrics answers from a thread of its own). A function cannot cross threads
 * through shared memory, and calling into another thread would need a message, which this
 * package never sends on a read. So what a scrape sees is the value the metric holds in
 * shared memory, and the callbacks are what keep it fresh, run in the defining thread:
 *
 *   - at every collection made in the defining thread (registry.collect(), so a
 *     Prometheus scrape through registerAtomicStats, observeAtomicStats and the
 *     OpenTelemetry producer, in that thread), before the memory is read: a scrape in the
 *     defining thread sees the value of that very moment, as with prom-client;
 *   - and, with `collectIntervalMs`, every that many milliseconds on an unref'd timer of the
 *     defining thread: a scrape in any other thread sees a value at most that old (plus the
 *     time the callback itself takes), and without it, the last value the defining thread
 *     wrote (by its callback at its last collection, or by any call of its own).
 *
 * Callbacks are kept per thread and per memory (any registry object of this thread on the
 * same memory runs them, as a scrape through any of them reads the same cells), and per
 * registry object that defined them: its close() stops its timers and drops its callbacks.
 * A callback that throws, or returns a promise that rejects, never fails a collection: the
 * others run, the memory is read, and the failure is a process warning (once per message,
 * code ATOMIC_STATS_COLLECT_CALLBACK_FAILED). A promise it returns is not awaited (a
 * collection is synchronous): what it writes when it settles is in the next scrape.
 */
import { InvalidOptionsError } from './errors.js';
import { warnOnce } from './export/warn.js';

/** The options a metric's configuration may add for a collect callback. */
export interface CollectOption<M> {
  /**
   * Called with `this` the metric before each collection made in this thread (a scrape of
   * registerAtomicStats, the OpenTelemetry exporters, registry.collect()), and every
   * `collectIntervalMs` when set. Scrapes in other threads see the last value it wrote.
   */
  collect?: (this: M) => void | Promise<void>;
  /** Also run `collect` on a timer of this thread, every this many milliseconds (10 to 3,600,000). */
  collectIntervalMs?: number;
}

interface Callback {
  readonly run: () => void;
  timer: ReturnType<typeof setInterval> | undefined;
}

// Per memory (its buffer, the same object for every registry object of this thread on it):
// per metric object, its callback.
const byMemory = new WeakMap<object, Map<object, Callback>>();
// Per registry object, what it registered (dropped at its close()).
const byOwner = new WeakMap<object, { memory: object; metric: object }[]>();

/**
 * Splits a metric configuration into what the kind checks and the callback options, checked
 * here (InvalidOptionsError, nothing registered). `configuration` is returned as is when
 * it has neither.
 */
export function splitCollect(configuration: unknown): { rest: unknown; collect?: (this: unknown) => unknown; intervalMs?: number } {
  if (configuration === null || typeof configuration !== 'object') return { rest: configuration };
  const c = configuration as Record<string, unknown>;
  if (!('collect' in c) && !('collectIntervalMs' in c)) return { rest: configuration };
  const { collect, collectIntervalMs, ...rest } = c;
  if (collect !== undefined && typeof collect !== 'function') throw new InvalidOptionsError('collect', 'must be a function');
  if (collectIntervalMs !== undefined) {
    if (collect === undefined) throw new InvalidOptionsError('collectIntervalMs', 'needs a collect function');
    if (typeof collectIntervalMs !== 'number' || !Number.isInteger(collectIntervalMs) || collectIntervalMs < 10 || collectIntervalMs > 3_600_000) {
      throw new InvalidOptionsError('collectIntervalMs', `must be an integer from 10 to 3600000, got ${String(collectIntervalMs)}`);
    }
  }
  return collect === undefined ? { rest } : { rest, collect: collect as (this: unknown) => unknown, intervalMs: collectIntervalMs as number | undefined };
}

function call(metric: object, fn: (this: unknown) => unknown): void {
  const fail = (err: unknown) =>
    warnOnce(`collect-callback:${String(err)}`, `atomic-stats: a collect callback failed; its metric keeps the value it held: ${String(err)}`, 'ATOMIC_STATS_COLLECT_CALLBACK_FAILED');
  try {
    const r = fn.call(metric);
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') (r as Promise<unknown>).then(undefined, fail);
  } catch (err) {
    fail(err);
  }
}

/** Registers `fn` for `metric` (replacing the one it had), opened through registry object `owner` on `memory`. */
export function addCollect(owner: object, memory: object, metric: object, fn: (this: unknown) => unknown, intervalMs: number | undefined): void {
  let m = byMemory.get(memory);
  if (m === undefined) byMemory.set(memory, (m = new Map()));
  const old = m.get(metric);
  if (old?.timer !== undefined) clearInterval(old.timer);
  const cb: Callback = { run: () => call(metric, fn), timer: undefined };
  if (intervalMs !== undefined) {
    cb.timer = setInterval(cb.run, intervalMs);
    (cb.timer as { unref?: () => void }).unref?.();
  }
  m.set(metric, cb);
  let list = byOwner.get(owner);
  if (list === undefined) byOwner.set(owner, (list = []));
  list.push({ memory, metric });
}

/** Runs every callback this thread registered on `memory` (before a collection reads it). */
export function runCollects(memory: object): void {
  const m = byMemory.get(memory);
  if (m === undefined) return;
  for (const cb of [...m.values()]) cb.run();
}

/** Stops and drops what registry object `owner` registered (its close()). */
export function dropCollects(owner: object): void {
  const list = byOwner.get(owner);
  if (list === undefined) return;
  byOwner.delete(owner);
  for (const { memory, metric } of list) {
    const m = byMemory.get(memory);
    const cb = m?.get(metric);
    if (cb === undefined) continue;
    if (cb.timer !== undefined) clearInterval(cb.timer);
    m!.delete(metric);
  }
}
