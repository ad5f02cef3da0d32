/*
 * When a thread's labelled metrics look for removed series: their quiescent points
 * (series-table.ts, "Stale children", says why they are needed and what they do).
 *
 * Every slow path of a metric is one (metric-base.ts calls quiesce() there). For a thread
 * that only ever writes through cached children, each registry object also runs one
 * unref'd timer, once a second, that calls quiesce() on every labelled metric opened
 * through it that caches a child: one load per metric when nothing was removed. The timer
 * holds its metrics weakly, so a registry object the application drops is not kept alive
 * by it, and it stops when none is left.
 *
 * A worker thread that exits normally detaches every cached child it holds, releasing
 * their references, so that the nodes of series removed later are reused; a child used
 * by an 'exit' listener after that re-attaches (and holds again) like any detached child.
 */
import { isMainThread } from 'node:worker_threads';

/** What the timer and the exit hook need of a labelled metric. */
export interface Quiescent {
  /** Detaches the cached children whose series were removed (cheap when nothing was). */
  quiesce(): void;
  /** Detaches every cached child (the thread is exiting). */
  detachAll(): void;
}

/** How often a thread that is otherwise idle in its metrics looks for removed series. */
export const QUIESCE_INTERVAL_MS = 1000;

interface Timer {
  readonly metrics: Set<WeakRef<Quiescent>>;
  handle: unknown;
}

const timers = new WeakMap<object, Timer>();
const everyMetric = new Set<WeakRef<Quiescent>>();
let exitHooked = false;

function unref(t: unknown): void {
  if (t !== null && typeof t === 'object' && typeof (t as { unref?: unknown }).unref === 'function') (t as { unref(): void }).unref();
  else if (typeof t === 'number') (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(t);
}

/**
 * Watches `metric`, opened through registry object `owner`, from now on (once: the caller
 * calls this when it first caches a child).
 */
export function watchQuiescence(owner: object, metric: Quiescent): void {
  const ref = new WeakRef(metric);
  everyMetric.add(ref);
  if (!exitHooked && !isMainThread && typeof process !== 'undefined' && typeof process.on === 'function') {
    exitHooked = true;
    process.on('exit', () => {
      for (const r of everyMetric) r.deref()?.detachAll();
    });
  }
  let t = timers.get(owner);
  if (t === undefined) timers.set(owner, (t = { metrics: new Set(), handle: undefined }));
  t.metrics.add(ref);
  if (t.handle !== undefined) return;
  const timer = t;
  timer.handle = setInterval(() => {
    for (const r of timer.metrics) {
      const m = r.deref();
      if (m === undefined) {
        timer.metrics.delete(r);
        everyMetric.delete(r);
      } else m.quiesce();
    }
    if (timer.metrics.size === 0) {
      clearInterval(timer.handle as Parameters<typeof clearInterval>[0]);
      timer.handle = undefined;
    }
  }, QUIESCE_INTERVAL_MS);
  unref(timer.handle);
}
