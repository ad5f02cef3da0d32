/*
 * Rate-limited failure reports, one limiter per bus and per subscriber.
 *
 * Why. A failing handler fails on every publish, so one report per failure turns a hot
 * path into a log flood: 1,000 publishes with two failing handlers used to write tens of
 * thousands of lines, the logging costing far more than the publishes and drowning every
 * other message. The counters already say exactly how many failures there were; the log
 * only has to say what is failing, and how often the rest were left out.
 *
 * How. Windows of `reportIntervalMs`, opened by the first report after a quiet spell. A
 * window lets `maxReportsPerInterval` reports through and counts the rest. When it ends
 * (an unref'd timer: a pending summary never keeps the process alive) one summary line
 * says how many reports were suppressed, and the next report opens a fresh window. So a
 * source writes at most `maxReportsPerInterval + 1` lines per window, whatever the
 * failure rate, and every suppressed report is accounted for in a summary — the one
 * still pending is written by `flush()` (the owner's `close()`), not lost.
 *
 * Whether a report passes is decided before it is built (`admit()`), because building
 * one — an Error with a captured stack — is the expensive part of a failure.
 *
 * Lines are compact by default: `details.error` is the error's message, not the Error,
 * and the default logger writes one line per report. `logStacks: true` passes the Error
 * objects through (the default logger then prints their stacks).
 */
import { describe as describeValue } from '../errors.js';

/** What receives the reports: `console` fits, so does a pino or winston logger. */
export interface ReportLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

export interface ReportLimits {
  readonly maxReportsPerInterval: number;
  readonly reportIntervalMs: number;
  readonly logStacks: boolean;
}

export const DEFAULT_MAX_REPORTS = 10;
export const DEFAULT_REPORT_INTERVAL_MS = 10_000;
export const MAX_REPORTS_LIMIT = 1_000_000;

/**
 * The logger used when none is given: one `console.warn` line per report, primitive
 * details appended as JSON; an Error in the details (only with `logStacks: true`) adds its
 * stack on the following lines. `console` is looked up at each call, so a replaced or
 * spied `console.warn` is honoured.
 */
export const defaultLogger: ReportLogger = {
  warn(message: string, details: Record<string, unknown>): void {
    const flat: Record<string, unknown> = {};
    let stack = '';
    for (const key of Object.keys(details)) {
      const v = details[key];
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') flat[key] = v;
      else if (typeof v === 'object' && isError(v)) stack += `\n${safeStack(v as Error)}`;
    }
    console.warn(`${message} ${JSON.stringify(flat)}${stack}`);
  },
};

function isError(v: object): boolean {
  try {
    return v instanceof Error;
  } catch {
    return false; // a revoked Proxy
  }
}

function safeStack(e: Error): string {
  try {
    const s = e.stack;
    const base = typeof s === 'string' ? s : `${e.name}: ${e.message}`;
    // A HandlerFailedError wraps the handler's own error: its stack is the useful one.
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error && typeof cause.stack === 'string' ? `${base}\nCaused by: ${cause.stack}` : base;
  } catch {
    return '<error without a readable stack>';
  }
}

/**
 * A text for any thrown or rejected value that never throws itself: a handler may throw a
 * revoked Proxy, or an object whose `message` getter throws, and reporting that must not
 * turn into a failure of the publish (or of the listener).
 */
export function safeErrorText(err: unknown): string {
  try {
    if (err instanceof Error) {
      const m = err.message;
      return typeof m === 'string' ? m : describeValue(m);
    }
    return describeValue(err);
  } catch {
    return '<unprintable value>';
  }
}

const SETTLED = Promise.resolve();
const nativeThen = Promise.prototype.then;

export class Reporter {
  private open = false;
  private left = 0;
  private suppressed = 0;
  private openedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private readonly closeWindow = (): void => this.endWindow(false);
  // Arms the timer of the window admit() opened (a microtask later), unless that window
  // has ended meanwhile (flush) or has its timer already.
  private readonly armWindow = (): void => {
    if (!this.open || this.timer !== undefined) return;
    const t = setTimeout(this.closeWindow, Math.max(1, this.openedAt + this.limits.reportIntervalMs - Date.now()));
    t.unref();
    this.timer = t;
  };

  /** `source` names the bus or subscriber in summaries, e.g. `{ bus: 'orders' }`. */
  constructor(
    private readonly logger: ReportLogger,
    private readonly limits: ReportLimits,
    private readonly what: string,
    private readonly source: Record<string, unknown>,
  ) {}

  get stacks(): boolean {
    return this.limits.logStacks;
  }

  /** Reports suppressed in the current window and not yet summarized. */
  get pendingSuppressed(): number {
    return this.suppressed;
  }

  /**
   * true: write the report now; false: it was counted as suppressed.
   *
   * The window's timer is armed from a microtask, never here: a report may be made at the
   * very end of the stack (a bus's publish deep in a chain of publishes from handlers),
   * where a RangeError half-way through Node's timer code can break Node's timers for the
   * whole process (src/bus/deadlines.ts). It is queued first, so that a throw while
   * queueing leaves the window closed.
   */
  admit(): boolean {
    if (!this.open) {
      nativeThen.call(SETTLED, this.armWindow);
      this.open = true;
      this.left = this.limits.maxReportsPerInterval;
      this.openedAt = Date.now();
    }
    if (this.left > 0) {
      this.left--;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** A report that always passes (it is the summary, or unconditional). */
  write(message: string, details: Record<string, unknown>): void {
    try {
      this.logger.warn(message, details);
    } catch {
      /* a broken logger must not turn a failure report into a failure */
    }
  }

  /** Writes the pending summary now and ends the window (and its timer). */
  flush(): void {
    this.endWindow(true);
  }

  private endWindow(early: boolean): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.open = false;
    const n = this.suppressed;
    this.suppressed = 0;
    if (n === 0) return;
    const ms = early ? Math.max(0, Date.now() - this.openedAt) : this.limits.reportIntervalMs;
    this.write(
      `atomic-stats: suppressed ${n} ${this.what} report${n === 1 ? '' : 's'} in the last ${formatSeconds(ms)} (at most ${this.limits.maxReportsPerInterval} per ${formatSeconds(this.limits.reportIntervalMs)})`,
      { ...this.source, suppressed: n, interval_ms: ms },
    );
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;
}
