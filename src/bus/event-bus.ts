import { InvalidOptionsError } from '../errors.js';
import type { StatsRegistry } from '../registry.js';
import type { EventBusStats, InProcessEventBusBigIntStats, InProcessEventBusStats } from '../stats/event-bus-stats.js';
import { PUB_FFI, PUB_RUST } from '../stats/fields.js';
import { Broadcaster, LocalChannel } from './broadcast.js';
import type { DomainEvent } from './domain-event.js';
import { HandlerFailedError, InvalidEventError } from './errors.js';
import { type EventHandler, HandlerTable } from './handler-table.js';
import { type BusConfig, type BusLogger, type InProcessEventBusOptions, checkBusOptions } from './options.js';
import { checkPattern } from './pattern.js';
import { BroadcastReceiver } from './receiver.js';

interface PendingCall {
  readonly result: PromiseLike<unknown>;
  readonly pattern: string;
  settled: boolean;
}

function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as PromiseLike<unknown>).then === 'function';
}

/**
 * Fire-and-forget delivery of domain events inside a process (SPEC §1): to handlers in
 * this thread chosen by pattern, and to broadcast receivers, which may live in other
 * worker threads.
 *
 * Stats. The bus records into `registry.eventBusStats(name)`. Buses opened with the same
 * registry and `name` — typically one per worker thread — share those counters, so
 * `getStatistics()` on any of them shows the totals of all of them, while its live fields
 * (`rust_subscriber_patterns`, `rust_handler_count`, `ffi_subscriber_count`) describe the
 * bus it was called on. Each thread records into its own stripe of the counters (plain
 * stores, no atomic read-modify-write); a snapshot sums the stripes.
 *
 * A publish whose matching handlers are all synchronous runs entirely inside `publish()`
 * and returns `undefined`: no Promise is created. Its counters are recorded in one
 * backend call after its handlers returned, so a handler that reads the stats during the
 * publish sees them as they were before it (no ordering between counters is promised
 * anyway, SPEC §0). If a handler returns a thenable, `publish()` counts the event at
 * once and returns a Promise (which never rejects) that settles when every handler has
 * settled or `dispatchTimeoutMs` has passed; the handler step is counted then, and the
 * event goes to the broadcast receivers then, as the original awaited its handlers
 * before broadcasting.
 */
export class InProcessEventBus {
  readonly name: string;
  readonly ffiChannelBufferSize: number;
  readonly logSubscriberErrors: boolean;
  readonly dispatchTimeoutMs: number;
  /** The shared counters this bus records into. */
  readonly stats: EventBusStats;
  private readonly table = new HandlerTable();
  private readonly broadcaster: Broadcaster;
  private readonly logger: BusLogger;
  private readonly record: boolean;

  constructor(options: InProcessEventBusOptions) {
    const c: BusConfig = checkBusOptions(options);
    this.name = c.name;
    this.ffiChannelBufferSize = c.ffiChannelBufferSize;
    this.logSubscriberErrors = c.logSubscriberErrors;
    this.dispatchTimeoutMs = c.dispatchTimeoutMs;
    this.logger = c.logger;
    this.record = c.recordStats;
    this.stats = c.registry.eventBusStats(c.name);
    this.broadcaster = new Broadcaster(c.ffiChannelBufferSize);
    c.registry.trackWriter(this);
  }

  /**
   * @internal The registry object is handing its stripe back: take the stats' shared
   * kernel from now on (StatsRegistry.releaseStripe).
   */
  retireStripe(): void {
    this.stats.retireStripe();
  }

  /** A builder, as the original offered; `new InProcessEventBus(options)` does the same. */
  static builder(registry: StatsRegistry, name: string): InProcessEventBusBuilder {
    return new InProcessEventBusBuilder(registry, name);
  }

  /**
   * Runs `handler` for every event whose name matches `pattern` (see SPEC §1: `*`,
   * `segment.*`, exact). Returns a function that removes this one subscription. An empty
   * or non-string pattern throws InvalidPatternError.
   */
  subscribe(pattern: string, handler: EventHandler): () => void {
    checkPattern(pattern);
    if (typeof handler !== 'function') throw new InvalidOptionsError('handler', 'must be a function');
    this.table.add(pattern, handler);
    let active = true;
    return () => {
      if (active) {
        active = false;
        this.table.remove(pattern, handler);
      }
    };
  }

  /** A new broadcast receiver; it sees the events published from now on. */
  subscribeBroadcast(): BroadcastReceiver {
    const ch = new LocalChannel(this.broadcaster);
    this.broadcaster.add(ch);
    return new BroadcastReceiver(ch);
  }

  /** Removes every handler. Counters are not reset; broadcast receivers are not affected. */
  clearSubscriptions(): void {
    this.table.clear();
  }

  /** Distinct patterns with at least one handler. */
  get patternCount(): number {
    return this.table.patternCount;
  }

  /** Handlers over all patterns. */
  get handlerCount(): number {
    return this.table.handlerCount;
  }

  /** Broadcast receivers open now (in this thread or handed to others). */
  get receiverCount(): number {
    return this.broadcaster.openCount();
  }

  /**
   * Publishes `event` (SPEC §1): counts it, runs the matching handlers (each failure
   * isolated and counted), then hands it to every open receiver or counts a drop.
   * Throws InvalidEventError (changing nothing) unless `event` is an object with a string
   * `event_name`. Returns undefined when every matching handler was synchronous, else a
   * Promise that resolves once the publish is complete.
   */
  publish(event: DomainEvent): Promise<void> | undefined {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      throw new InvalidEventError(event, 'an event must be an object');
    }
    const eventName = event.event_name;
    if (typeof eventName !== 'string') throw new InvalidEventError(event, 'event_name must be a string');

    if (this.table.handlerCount === 0) {
      const lagged = this.broadcaster.publish(event);
      if (this.record) {
        if (lagged <= 0) this.stats.countPublish(lagged === 0 ? PUB_FFI : 0);
        else this.stats.recordPublish(PUB_FFI, 0, lagged);
      }
      return undefined;
    }
    const list = this.table.match(eventName);
    const handlers = list.handlers;
    let errors = 0;
    let pending: PendingCall[] | undefined;
    for (let i = 0; i < handlers.length; i++) {
      let r: unknown;
      try {
        r = handlers[i]!(event);
      } catch (err) {
        errors++;
        if (this.logSubscriberErrors) this.reportOne(list.patterns[i]!, event, err, false);
        continue;
      }
      if (r !== undefined && isThenable(r)) (pending ??= []).push({ result: r, pattern: list.patterns[i]!, settled: false });
    }
    if (pending !== undefined) return this.settle(event, errors, pending);
    if (errors > 0 && !this.logSubscriberErrors) this.reportAggregate(event, errors);
    const lagged = this.broadcaster.publish(event);
    if (this.record) {
      // A plain publish (the usual one) is one outcome cell; see EventBusStats.countPublish.
      if (errors === 0 && lagged <= 0) this.stats.countPublish(lagged === 0 ? PUB_RUST | PUB_FFI : PUB_RUST);
      else this.stats.recordPublish(lagged >= 0 ? PUB_RUST | PUB_FFI : PUB_RUST, errors, lagged > 0 ? lagged : 0);
    }
    return undefined;
  }

  private settle(event: DomainEvent, syncErrors: number, pending: PendingCall[]): Promise<void> {
    if (this.record) this.stats.recordDispatch();
    return new Promise<void>((resolve) => {
      let errors = syncErrors;
      let left = pending.length;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const call of pending) {
          if (call.settled) continue;
          errors++;
          if (this.logSubscriberErrors) this.reportOne(call.pattern, event, undefined, true);
        }
        if (errors > 0 && !this.logSubscriberErrors) this.reportAggregate(event, errors);
        if (this.record) this.stats.recordRustDispatch(errors);
        const lagged = this.broadcaster.publish(event);
        if (this.record) this.stats.recordFfiStep(lagged >= 0 ? PUB_FFI : 0, lagged > 0 ? lagged : 0);
        resolve();
      };
      // unref: a handler that never settles must not keep the process alive; if the
      // process ends first, that publish is simply never completed.
      const timer = setTimeout(finish, this.dispatchTimeoutMs);
      timer.unref();
      for (const call of pending) {
        const settled = (failed: boolean, err?: unknown): void => {
          if (done || call.settled) return;
          call.settled = true;
          left--;
          if (failed) {
            errors++;
            if (this.logSubscriberErrors) this.reportOne(call.pattern, event, err, false);
          }
          if (left === 0) finish();
        };
        try {
          call.result.then(
            () => settled(false),
            (err: unknown) => settled(true, err),
          );
        } catch (err) {
          settled(true, err);
        }
      }
    });
  }

  private reportOne(pattern: string, event: DomainEvent, err: unknown, timedOut: boolean): void {
    const e = new HandlerFailedError(pattern, event.event_name, err, timedOut);
    this.safeLog(`atomic-stats: in-process event handler failed (fire-and-forget): ${e.message}`, {
      bus: this.name,
      event_name: event.event_name,
      event_id: event.event_id,
      pattern,
      error: e,
    });
  }

  private reportAggregate(event: DomainEvent, count: number): void {
    this.safeLog(`atomic-stats: ${count} in-process event handler(s) failed (fire-and-forget) on event "${event.event_name}"`, {
      bus: this.name,
      event_name: event.event_name,
      event_id: event.event_id,
      error_count: count,
    });
  }

  // A logger that throws must not turn a handler failure into a publish failure.
  private safeLog(message: string, details: Record<string, unknown>): void {
    try {
      this.logger.warn(message, details);
    } catch {
      /* fire-and-forget */
    }
  }

  /**
   * The snapshot DTO: counters summed over every bus sharing this name (all threads), live
   * fields of this bus. Throws UnsafeIntegerError rather than round a counter above
   * 2^53 - 1; see {@link getStatisticsBigInt}. Not a transaction: see EventBusStats.
   */
  getStatistics(): InProcessEventBusStats {
    return this.stats.snapshot(this.live());
  }

  /** The same with exact bigint counters. */
  getStatisticsBigInt(): InProcessEventBusBigIntStats {
    return this.stats.snapshotBigInt(this.live());
  }

  private live() {
    return {
      rust_subscriber_patterns: this.table.patternCount,
      rust_handler_count: this.table.handlerCount,
      ffi_subscriber_count: this.broadcaster.openCount(),
    };
  }
}

/** Builder form of the constructor's options. */
export class InProcessEventBusBuilder {
  private readonly o: InProcessEventBusOptions;
  constructor(registry: StatsRegistry, name: string) {
    this.o = { registry, name };
  }
  ffiChannelBufferSize(size: number): this {
    this.o.ffiChannelBufferSize = size;
    return this;
  }
  logSubscriberErrors(enabled: boolean): this {
    this.o.logSubscriberErrors = enabled;
    return this;
  }
  dispatchTimeoutMs(ms: number): this {
    this.o.dispatchTimeoutMs = ms;
    return this;
  }
  logger(logger: BusLogger): this {
    this.o.logger = logger;
    return this;
  }
  build(): InProcessEventBus {
    return new InProcessEventBus({ ...this.o });
  }
}
