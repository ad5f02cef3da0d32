// Rate-limited, compact failure reports of the bus and the subscriber: at most
// maxReportsPerInterval reports per window, one summary with the exact suppressed count,
// an unref'd summary timer that close() flushes and clears.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HandlerFailedError, InProcessEventBus, InvalidOptionsError, StatsRegistry, WorkerEventSubscriber } from '../src/index.js';
import { recordingLogger, testEvent } from './helpers/bus.js';

const registry = () => StatsRegistry.create({ backend: 'js' });

function failingBus(extra: Record<string, unknown> = {}) {
  const logger = recordingLogger();
  const bus = new InProcessEventBus({ registry: registry(), name: 'bus', logger, ...extra });
  bus.subscribe('e', () => {
    throw new Error('one');
  });
  bus.subscribe('e', () => {
    throw new Error('two');
  });
  return { bus, logger };
}

const summaries = <C extends { message: string }>(calls: C[]): C[] => calls.filter((c) => c.message.includes("suppressed"));

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('bus reports', () => {
  it('1,000 publishes with 2 failing handlers: 10 compact reports, then one summary with the exact suppressed count', () => {
    const { bus, logger } = failingBus();
    for (let i = 0; i < 1000; i++) bus.publish(testEvent('e'));
    expect(bus.getStatistics().rust_handler_errors).toBe(2000);
    expect(logger.calls).toHaveLength(10);
    for (const c of logger.calls) {
      expect(c.message).not.toContain('\n');
      expect(typeof c.details.error).toBe('string'); // the message, not the Error and its stack
      expect(c.details).toMatchObject({ bus: 'bus', event_name: 'e', pattern: 'e', reason: 'failed' });
    }
    expect(logger.calls[0]!.details.error).toContain('one');
    bus.close();
    expect(logger.calls).toHaveLength(11);
    const summary = logger.calls[10]!;
    expect(summary.message).toMatch(/^atomic-stats: suppressed 1990 handler failure reports in the last /);
    expect(summary.message).toContain('(at most 10 per 10 s)'); // the defaults
    expect(summary.details).toMatchObject({ bus: 'bus', suppressed: 1990 });
    bus.close(); // nothing left to summarize: no second summary
    expect(logger.calls).toHaveLength(11);
  });

  it('logSubscriberErrors: false counts aggregates against the same limit', () => {
    const { bus, logger } = failingBus({ logSubscriberErrors: false, maxReportsPerInterval: 3 });
    for (let i = 0; i < 1000; i++) bus.publish(testEvent('e'));
    expect(logger.calls.map((c) => c.details.error_count)).toEqual([2, 2, 2]);
    bus.close();
    expect(summaries(logger.calls).map((c) => c.details.suppressed)).toEqual([997]);
  });

  it('maxReportsPerInterval: 0 writes summaries only', () => {
    const { bus, logger } = failingBus({ maxReportsPerInterval: 0 });
    for (let i = 0; i < 50; i++) bus.publish(testEvent('e'));
    expect(logger.calls).toHaveLength(0);
    bus.close();
    expect(logger.calls.map((c) => c.details.suppressed)).toEqual([100]);
  });

  it('each bus has its own limit', () => {
    const a = failingBus({ maxReportsPerInterval: 2 });
    const b = failingBus({ maxReportsPerInterval: 2 });
    for (let i = 0; i < 10; i++) a.bus.publish(testEvent('e'));
    b.bus.publish(testEvent('e'));
    expect([a.logger.calls.length, b.logger.calls.length]).toEqual([2, 2]);
  });

  it('logStacks: true passes the HandlerFailedError (with the handler\'s error as cause)', () => {
    const { bus, logger } = failingBus({ logStacks: true });
    bus.publish(testEvent('e'));
    const err = logger.calls[0]!.details.error as HandlerFailedError;
    expect(err).toBeInstanceOf(HandlerFailedError);
    expect(err.reason).toBe('failed');
    expect((err.cause as Error).message).toBe('one');
  });

  it('the summary timer is unref\'d, writes the summary when the window ends, and a new window then opens', async () => {
    vi.useFakeTimers();
    const { bus, logger } = failingBus({ reportIntervalMs: 1000 });
    for (let i = 0; i < 1000; i++) bus.publish(testEvent('e'));
    // Armed in a microtask, never on the reporting call's own stack (see src/bus/deadlines.ts).
    expect(vi.getTimerCount()).toBe(0);
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(summaries(logger.calls)).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(summaries(logger.calls).map((c) => [c.details.suppressed, c.details.interval_ms])).toEqual([[1990, 1000]]);
    expect(summaries(logger.calls)[0]!.message).toContain('in the last 1 s');
    expect(vi.getTimerCount()).toBe(0); // the window closed with it
    bus.publish(testEvent('e'));
    expect(logger.calls).toHaveLength(13); // 10 + summary + 2 fresh reports
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(1);
    bus.close();
    expect(vi.getTimerCount()).toBe(0);
    // A window closed before its timer was armed leaves no timer either.
    bus.publish(testEvent('e'));
    bus.close();
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the summary timer does not keep the process alive', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const { bus } = failingBus();
    bus.publish(testEvent('e'));
    await Promise.resolve();
    const timers = spy.mock.results.map((r) => r.value as NodeJS.Timeout);
    expect(timers).toHaveLength(1);
    expect(timers[0]!.hasRef()).toBe(false);
    bus.close();
  });

  it('the default logger writes one line per report, and stacks only with logStacks', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void lines.push(...args.map(String).join(' ').split('\n')));
    const bus = new InProcessEventBus({ registry: registry(), name: 'quiet' });
    bus.subscribe('e', () => {
      throw new Error('one');
    });
    bus.subscribe('e', () => {
      throw new Error('two');
    });
    for (let i = 0; i < 1000; i++) bus.publish(testEvent('e'));
    bus.close();
    expect(lines).toHaveLength(11);
    expect(lines[0]).toContain('failed on event "e": one');
    expect(lines[0]).toContain('"bus":"quiet"');
    expect(lines[10]).toContain('suppressed 1990');
    lines.length = 0;
    const loud = new InProcessEventBus({ registry: registry(), name: 'loud', logStacks: true });
    loud.subscribe('e', () => {
      throw new Error('deep');
    });
    loud.publish(testEvent('e'));
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.some((l) => l.includes('Caused by: Error: deep'))).toBe(true);
  });

  it('a logger that throws, on reports and on the summary, changes nothing', () => {
    const bus = new InProcessEventBus({
      registry: registry(),
      name: 'bus',
      maxReportsPerInterval: 1,
      logger: {
        warn() {
          throw new Error('logger down');
        },
      },
    });
    bus.subscribe('e', () => {
      throw new Error('x');
    });
    for (let i = 0; i < 5; i++) expect(() => bus.publish(testEvent('e'))).not.toThrow();
    expect(() => bus.close()).not.toThrow();
    expect(bus.getStatistics().rust_handler_errors).toBe(5);
  });
});

describe('subscriber reports', () => {
  it('1,000 malformed completions: 10 reports, exact counts, one summary on close; close clears the timer', async () => {
    vi.useFakeTimers();
    const logger = recordingLogger();
    const sub = new WorkerEventSubscriber({ registry: registry(), name: 'subs', workerId: 'w', logger });
    for (let i = 0; i < 1000; i++) sub.handleCompletion({ success: true, event_id: `e${i}`, task_uuid: 't', step_uuid: 's', metadata: 'bad' });
    expect(sub.getStatistics()).toMatchObject({ completions_received: 1000, conversion_errors: 1000 });
    expect(logger.calls).toHaveLength(10);
    for (const c of logger.calls) expect(typeof c.details.error).toBe('string');
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(1);
    sub.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(summaries(logger.calls).map((c) => c.details)).toEqual([{ subscriber: 'subs', worker_id: 'w', suppressed: 990, interval_ms: 0 }]);
    expect(summaries(logger.calls)[0]!.message).toMatch(/^atomic-stats: suppressed 990 completion reports/);
  });

  it('listener errors share the limit; logStacks passes the Error', () => {
    const logger = recordingLogger();
    const sub = new WorkerEventSubscriber({ registry: registry(), name: 'subs', workerId: 'w', logger, maxReportsPerInterval: 2, logStacks: true });
    sub.onResult(() => {
      throw new Error('listener');
    });
    for (let i = 0; i < 5; i++) sub.handleCompletion({ success: true, event_id: `e${i}`, task_uuid: 't', step_uuid: 's', result: null });
    expect(logger.calls).toHaveLength(2);
    expect(logger.calls[0]!.details.error).toBeInstanceOf(Error);
    sub.close();
    expect(summaries(logger.calls).map((c) => c.details.suppressed)).toEqual([3]);
  });
});

describe('report options are validated (bus and subscriber), refusing without opening anything', () => {
  const bad: [string, unknown][] = [
    ['maxReportsPerInterval', -1],
    ['maxReportsPerInterval', 1.5],
    ['maxReportsPerInterval', 1_000_001],
    ['maxReportsPerInterval', '3'],
    ['reportIntervalMs', 0],
    ['reportIntervalMs', 2 ** 31],
    ['reportIntervalMs', Number.NaN],
    ['logStacks', 'yes'],
    ['logStacks', 1],
    ['logger', null],
    ['logger', {}],
    ['logger', 5],
    ['logger', { warn: 'no' }],
  ];
  it.each(bad)('%s: %j', (option, value) => {
    const r = registry();
    const before = r.entries();
    let e1: unknown;
    let e2: unknown;
    try {
      new InProcessEventBus({ registry: r, name: 'bus', [option]: value } as never);
    } catch (e) {
      e1 = e;
    }
    try {
      new WorkerEventSubscriber({ registry: r, name: 'subs', workerId: 'w', [option]: value } as never);
    } catch (e) {
      e2 = e;
    }
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(InvalidOptionsError);
      expect((e as InvalidOptionsError).option).toBe(option);
    }
    expect(r.entries()).toEqual(before);
  });

  it('the builder sets them too', () => {
    const logger = recordingLogger();
    const bus = InProcessEventBus.builder(registry(), 'b').maxReportsPerInterval(1).reportIntervalMs(50).logStacks(true).logger(logger).build();
    bus.subscribe('e', () => {
      throw new Error('x');
    });
    bus.publish(testEvent('e'));
    bus.publish(testEvent('e'));
    bus.close();
    expect(logger.calls).toHaveLength(2);
    expect(logger.calls[0]!.details.error).toBeInstanceOf(HandlerFailedError);
    expect(logger.calls[1]!.details.suppressed).toBe(1);
  });
});
