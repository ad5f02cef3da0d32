import { defineAliases } from '../deprecated.js';
import { InvalidOptionsError } from '../errors.js';
import type { RegistryCore } from '../registry-core.js';
import type { EventBusStats, InProcessEventBusBigIntStats, InProcessEventBusStats } from '../stats/event-bus-stats.js';
import { eventBusStatsKind } from '../stats/event-bus-stats.js';
import { PUB_BROADCAST, PUB_HANDLED } from '../ops/stats.js';
import { Broadcaster, LocalChannel } from './broadcast.js';
import type { DomainEvent } from './domain-event.js';
import { HandlerFailedError, type HandlerFailureReason, InvalidEventError } from './errors.js';
import { type EventHandler, HandlerTable, type MatchList } from './handler-table.js';
import { type BusConfig, type BusLogger, type InProcessEventBusOptions, checkBusOptions } from './options.js';
import { DispatchDeadlines } from './deadlines.js';
import { checkPattern } from './pattern.js';
import { BroadcastReceiver } from './receiver.js';
import { Reporter, safeErrorText } from './reporter.js';

interface PendingCall {
  readonly result: object;
  // `then`, read once: a getter may answer differently (or throw) on a second read, so the
  // function that was checked is the function that is called (as Promise resolution does).
  readonly then: (onFulfilled: (v: unknown) => void, onRejected: (e: unknown) => void) => unknown;
  readonly pattern: string;
  readonly handler: EventHandler;
  settled: boolean;
}

/**
 * A publish awaiting its handlers' thenables (settle()): a plain record, and the bus's
 * methods that act on it, rather than closures named by `const` (the bundle keeps
 * function names, and naming a closure is a defineProperty per publish).
 */
interface AwaitedPublish {
  readonly event: DomainEvent;
  readonly eventName: string;
  readonly pending: PendingCall[];
  errors: number;
  left: number;
  /** finishAwaited() ran: later callbacks and the timer change nothing. */
  done: boolean;
  /** settle() is still calling the thenables' `then`: a callback then must not complete the publish. */
  calling: boolean;
  /** When dispatchTimeoutMs has passed, on monotonicClock (DispatchDeadlines). */
  readonly deadline: number;
  resolve: () => void;
}

const noop = (): void => {};
const SETTLED = Promise.resolve();
const nativeThen = Promise.prototype.then;

/** The `then` of a thenable, read once, or undefined. May throw: it runs user code. */
function thenOf(r: unknown): PendingCall['then'] | undefined {
  if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return undefined;
  const then = (r as { then?: unknown }).then;
  return typeof then === 'function' ? (then as PendingCall['then']) : undefined;
}

/** `pending`, plus handler `i`'s call when its result `r` is a thenable. May throw (see thenOf). */
function collectThenable(pending: PendingCall[] | undefined, r: unknown, list: MatchList, i: number): PendingCall[] | undefined {
  const then = thenOf(r);
  if (then === undefined) return pending;
  const call: PendingCall = { result: r as object, then, pattern: list.patterns[i]!, handler: list.handlers[i]!, settled: false };
  if (pending === undefined) return [call];
  pending.push(call);
  return pending;
}

/** The event's id for a report, or undefined: reading it must not throw (it may be a getter). */
function eventIdOf(event: DomainEvent): string | undefined {
  try {
    const id = (event as { event_id?: unknown }).event_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fire-and-forget delivery of domain events inside a process: to handlers in this thread
 * chosen by pattern, and to broadcast receivers, which may live in other worker threads.
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
 * anyway). If a handler returns a thenable, `publish()` returns a Promise (which never
 * rejects) that settles when every handler has settled or `dispatchTimeoutMs` has passed;
 * the event goes to the broadcast receivers then (receivers see an event after its
 * handlers have run), and the whole publish is counted then, in one backend call, as a
 * synchronous one is.
 *
 * Why a publish is counted when it completes, never in part before. The counters must add
 * up, `total_events_dispatched == ffi_channel_dispatches + ffi_channel_drops` (and, with
 * handlers, `== rust_handler_dispatches`), once no publish is in flight. A thread can be
 * terminated (worker.terminate()) while publishes await their handlers, and then they
 * never complete: had the event been counted when it started waiting, it would stay
 * counted without its dispatch or drop for good. Counted by one record at its completion,
 * a publish that never completes is simply not counted: it reached no receiver and
 * finished no handler step either. That record's own counts (total, the handler dispatch,
 * the broadcast dispatch or drop) are whole or absent in a thread terminated at any
 * instant, on every backend and placement (src/ops/stats-js.ts explains how).
 *
 * Backlog. Each publish awaiting handlers holds its event, its thenables and a timer
 * (about 1.2 KB) for up to `dispatchTimeoutMs`. At most `maxPendingDispatches` of them
 * exist per bus; at that bound the bus sheds rather than queues (see the option), because
 * `publish()` is fire-and-forget: a caller that does not await it cannot be slowed down,
 * and a queue in front of a downstream that never answers only moves the out-of-memory
 * from the handlers to the queue. The bound holds for publishes made from inside handlers
 * too (settle() takes the slot).
 *
 * Throws. Whatever throws inside a publish, a stack overflow included, the counters stay
 * consistent: a publish that throws has counted nothing and holds no slot, one that
 * returns is counted exactly once, when it completes (settle() explains the order that
 * ensures it).
 *
 * Nothing a handler returns can make `publish()` throw: a thenable's `then` is read once,
 * inside the handler's failure isolation, and called once; its first callback decides.
 */
export class InProcessEventBus {
  readonly name: string;
  /** Capacity of each broadcast receiver's queue. */
  readonly broadcastBufferSize: number;
  readonly logSubscriberErrors: boolean;
  readonly dispatchTimeoutMs: number;
  /** Publishes that may await asynchronous handlers at once; beyond, handlers are shed. */
  readonly maxPendingDispatches: number;
  /** The shared counters this bus records into. */
  readonly stats: EventBusStats;
  private readonly table = new HandlerTable();
  private readonly broadcaster: Broadcaster;
  private readonly reporter: Reporter;
  private readonly record: boolean;
  // Publishes of this bus awaiting handlers now (this thread only: each bus bounds its own).
  private inFlight = 0;
  // Handlers seen returning a thenable. At the bound these are not called at all, so a
  // saturated bus stops feeding a downstream that does not answer; a handler is only
  // ever learnt here on the asynchronous path, never on the synchronous one.
  private readonly asyncHandlers = new WeakSet<EventHandler>();
  // The dispatch timeouts of the publishes awaiting handlers: one timer for the bus.
  private readonly deadlines: DispatchDeadlines<AwaitedPublish>;
  // The stats' owned outcome cells (EventBusStats.ownedOutcomeWords), held here so that a
  // plain publish counts itself with loads from this object alone; undefined when stats are
  // off, when this thread has no stripe, and from retireStripe() on.
  // (Initialised here so that its field starts as a small integer, the representation V8
  // then keeps for it.)
  private ownedWords: Int32Array | undefined;
  private readonly ownedOutcome: number = 0;

  constructor(options: InProcessEventBusOptions) {
    const c: BusConfig = checkBusOptions(options);
    this.name = c.name;
    this.broadcastBufferSize = c.broadcastBufferSize;
    this.logSubscriberErrors = c.logSubscriberErrors;
    this.dispatchTimeoutMs = c.dispatchTimeoutMs;
    this.maxPendingDispatches = c.maxPendingDispatches;
    this.reporter = new Reporter(c.logger, c.reports, 'handler failure', { bus: c.name });
    this.record = c.recordStats;
    this.stats = eventBusStatsKind.open(c.registry, c.name);
    const owned = this.record ? this.stats.ownedOutcomeWords() : undefined;
    this.ownedWords = owned?.words;
    this.ownedOutcome = owned === undefined ? 0 : owned.first;
    this.broadcaster = new Broadcaster(c.broadcastBufferSize);
    this.deadlines = new DispatchDeadlines(c.dispatchTimeoutMs, (a) => this.finishAwaited(a));
    c.registry.trackWriter(this);
  }

  /** @deprecated Use {@link broadcastBufferSize}: the same value under its former name (removed in 0.3). */
  get ffiChannelBufferSize(): number {
    return this.broadcastBufferSize;
  }

  /**
   * @internal The registry object is handing its stripe back: take the stats' shared
   * kernel from now on (RegistryCore.releaseStripe).
   */
  retireStripe(): void {
    // First: not one more inline store into a stripe that is being handed back.
    this.ownedWords = undefined;
    this.stats.retireStripe();
  }

  /** A builder for the options; `new InProcessEventBus(options)` does the same. */
  static builder(registry: RegistryCore, name: string): InProcessEventBusBuilder {
    return new InProcessEventBusBuilder(registry, name);
  }

  /**
   * Runs `handler` for every event whose name matches `pattern` (`*` alone: every event;
   * `*` as a whole segment: any one segment; otherwise an exact name). Returns a function
   * that removes this one subscription. An empty or non-string pattern throws
   * InvalidPatternError; a handler that is not a function, InvalidOptionsError.
   *
   * `P` types the payload the handler receives. The bus does not check it (it checks only
   * `event_name` when an event is published): `P` is the subscriber's assertion about what
   * is published under `pattern`.
   *
   * ```ts
   * bus.subscribe<{ orderId: string; amount: number }>('payment.*', (event) => {
   *   charge(event.payload.orderId, event.payload.amount);
   * });
   * ```
   */
  subscribe<P = unknown>(pattern: string, handler: EventHandler<P>): () => void {
    checkPattern(pattern);
    if (typeof handler !== 'function') throw new InvalidOptionsError('handler', 'must be a function');
    // Stored as a handler of any payload: the table never looks at payloads.
    const h = handler as EventHandler;
    this.table.add(pattern, h);
    let active = true;
    return () => {
      if (active) {
        active = false;
        this.table.remove(pattern, h);
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

  /** Publishes of this bus awaiting asynchronous handlers now (at most `maxPendingDispatches`). */
  get pendingDispatches(): number {
    return this.inFlight;
  }

  /**
   * Publishes `event`: counts it, runs the matching handlers (each failure isolated and
   * counted), then hands it to every open receiver or counts a drop. Throws
   * InvalidEventError (changing nothing) unless `event` is an object with a string
   * `event_name`; never throws for what a handler does or returns. Returns undefined when
   * no handler's result is awaited, else a Promise that resolves (never rejects) once the
   * publish is complete.
   *
   * Any object with a string `event_name` is accepted; its other fields are carried as
   * they are, to handlers (the same object) and receivers. `createDomainEvent()` builds the
   * full `DomainEvent` shape (id, version, metadata) when you want it. An event for a
   * receiver in another thread must be structured-cloneable.
   */
  publish<E extends { readonly event_name: string }>(event: E): Promise<void> | undefined;
  // The implementation's own signature (not visible to callers) names the object by the
  // shape its readers (handlers, receivers) are typed with; the checks below are what the
  // bus relies on.
  publish(event: DomainEvent): Promise<void> | undefined {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      throw new InvalidEventError(event, 'an event must be an object');
    }
    const eventName = event.event_name;
    if (typeof eventName !== 'string') throw new InvalidEventError(event, 'event_name must be a string');

    if (this.table.handlerCount === 0) return this.publishToReceivers(event);
    if (this.inFlight >= this.maxPendingDispatches) return this.publishShedding(event, eventName);
    const list = this.table.match(eventName);
    const handlers = list.handlers;
    let errors = 0;
    let pending: PendingCall[] | undefined;
    for (let i = 0; i < handlers.length; i++) {
      try {
        const r: unknown = handlers[i]!(event);
        // Inside the try: reading `then` runs user code (a getter, a Proxy trap) and a
        // throw there is this handler's failure, not publish()'s. Kept out of line (as is
        // the rest of the asynchronous path) so that publish() stays small enough for V8
        // to inline it into the caller's loop.
        if (r !== undefined) pending = collectThenable(pending, r, list, i);
      } catch (err) {
        errors++;
        if (this.logSubscriberErrors) this.reportThrow(list.patterns[i]!, eventName, event, err);
      }
    }
    if (pending !== undefined) return this.settle(event, eventName, errors, pending);
    if (errors > 0 && !this.logSubscriberErrors) this.reportAggregate(eventName, event, errors);
    const lagged = this.broadcaster.publish(event);
    // A plain publish (no handler failed, no receiver lagged: the usual one) adds 1 to one
    // outcome cell of this thread's stripe (EventBusStats.countPublish), here by a plain
    // load and store of its tagged low word: t's low 24 bits are 0 exactly when they
    // carry into the high word, which the stats do (recordSlow). Only this thread writes
    // the word and readers take each word whole, so a plain store is enough. The flags are
    // literals, PUB_HANDLED | PUB_BROADCAST = 3 and PUB_HANDLED = 1: a module constant is a variable the
    // bundled code reloads on every publish (see src/ops/stats-js.ts).
    const u = this.ownedWords;
    if (u !== undefined && errors === 0 && lagged <= 0) {
      const i = this.ownedOutcome + (lagged === 0 ? 3 : 1);
      const t = (u[i]! + 1) | 0;
      if ((t & 0xffffff) !== 0) {
        u[i] = t;
        return undefined;
      }
    }
    if (this.record) this.recordSlow(errors, lagged);
    return undefined;
  }

  /** The record of a synchronous publish that publish() did not store inline. */
  private recordSlow(errors: number, lagged: number): void {
    if (errors === 0 && lagged <= 0) this.stats.countPublish(lagged === 0 ? PUB_HANDLED | PUB_BROADCAST : PUB_HANDLED);
    else this.stats.recordPublish(lagged >= 0 ? PUB_HANDLED | PUB_BROADCAST : PUB_HANDLED, errors, lagged > 0 ? lagged : 0);
  }

  /**
   * A publish on a bus without handlers: to the receivers only. Out of line so that
   * publish() stays under V8's inlining limit (460 bytes of bytecode): inlined into the
   * caller's loop, a publish saves its call and the stats' record costs relatively less.
   */
  private publishToReceivers(event: DomainEvent): undefined {
    const lagged = this.broadcaster.publish(event);
    if (this.record) {
      if (lagged <= 0) this.stats.countPublish(lagged === 0 ? PUB_BROADCAST : 0);
      else this.stats.recordPublish(PUB_BROADCAST, 0, lagged);
    }
    return undefined;
  }

  /**
   * A publish while `maxPendingDispatches` publishes await handlers. Handlers known to be
   * asynchronous are not called; any other runs, and if it returns a thenable after all,
   * that thenable is not awaited (only observed, so that its rejection is not unhandled)
   * and the handler is known from then on. Each handler left out counts as shed and as a
   * handler error; the publish itself completes now, as a synchronous one does.
   */
  private publishShedding(event: DomainEvent, eventName: string): undefined {
    const list = this.table.match(eventName);
    const handlers = list.handlers;
    let errors = 0;
    let shed = 0;
    for (let i = 0; i < handlers.length; i++) {
      const h = handlers[i]!;
      if (this.asyncHandlers.has(h)) {
        shed++;
        if (this.logSubscriberErrors) this.reportOne(list.patterns[i]!, eventName, event, undefined, 'shed');
        continue;
      }
      try {
        const r: unknown = h(event);
        const then = r === undefined ? undefined : thenOf(r);
        if (then !== undefined) {
          shed++;
          this.shedOne(r as object, then, h, list.patterns[i]!, eventName, event);
        }
      } catch (err) {
        errors++;
        if (this.logSubscriberErrors) this.reportOne(list.patterns[i]!, eventName, event, err, 'failed');
      }
    }
    return this.completeShedding(event, eventName, errors, shed);
  }

  /** A thenable left out at the bound: its handler is known as asynchronous, the thenable only observed. */
  private shedOne(result: object, then: PendingCall['then'], handler: EventHandler, pattern: string, eventName: string, event: DomainEvent): void {
    this.asyncHandlers.add(handler);
    if (this.logSubscriberErrors) this.reportOne(pattern, eventName, event, undefined, 'shed');
    try {
      then.call(result, noop, noop);
    } catch {
      /* already counted as shed; a throwing then changes nothing more */
    }
  }

  /** The end of a shedding publish: its report, its receivers, its record. */
  private completeShedding(event: DomainEvent, eventName: string, errors: number, shed: number): undefined {
    if (errors + shed > 0 && !this.logSubscriberErrors) this.reportAggregate(eventName, event, errors + shed, shed);
    const lagged = this.broadcaster.publish(event);
    if (this.record) {
      // The publish whole in one call first: a publish that returns is counted, one that
      // throws here (no stack left) is not. The shed count after it, where losing it to a
      // stack overflow leaves the shed calls still counted as errors.
      this.stats.recordPublish(lagged >= 0 ? PUB_HANDLED | PUB_BROADCAST : PUB_HANDLED, errors + shed, lagged > 0 ? lagged : 0);
      if (shed > 0) {
        try {
          this.stats.recordHandlerShed(shed);
        } catch {
          /* only a RangeError at the end of the stack can get here */
        }
      }
    }
    return undefined;
  }

  /**
   * A publish some of whose handlers returned thenables: it takes a slot of the backlog and
   * returns a Promise that resolves when they have all settled or `dispatchTimeoutMs` has
   * passed. If every slot is taken by now, it sheds them instead and completes at once.
   *
   * The bound is checked here, where the slot is taken, and not only when publish() starts:
   * a handler may publish again (re-entrantly), and those inner publishes reach this point,
   * and take their slots, before the outer one. Check and take have no call in between, so
   * pendingDispatches never exceeds maxPendingDispatches.
   *
   * Throws. A publish may run at the end of the stack (a chain of publishes from handlers
   * that recurses until RangeError), where any call can throw. So this is ordered to leave
   * the bus consistent whatever throws where:
   *  1. the AwaitedPublish, the Promise and the deadline are made first: a throw there has changed
   *     nothing, and publish() throws;
   *  2. the slot is taken right after the deadline is queued, with no call in between:
   *     from then on the dispatch timer completes the publish even if nothing else below
   *     runs, so the slot is always given back and the publish always counted whole;
   *  3. the rest (calling each `then`) is best effort: a throw there is swallowed, and a
   *     thenable not reached counts as a timeout.
   * Nothing is counted here: the publish is counted whole when it completes (see the class).
   * The publish is completed (finishAwaited) only on a fresh stack: by the dispatch timer,
   * or by a microtask queued when the last thenable settles. Never inside a `then` or a
   * callback, which a thenable may make from any depth: completing touches several
   * counters, the receivers and Node's timers, and must not stop half-way. Nothing on this
   * path touches Node's own JavaScript (timers, queueMicrotask) either: see deadlines.ts
   * for what a RangeError half-way through it did.
   */
  private settle(event: DomainEvent, eventName: string, syncErrors: number, pending: PendingCall[]): Promise<void> | undefined {
    if (this.inFlight >= this.maxPendingDispatches) {
      for (let i = 0; i < pending.length; i++) {
        const call = pending[i]!;
        this.shedOne(call.result, call.then, call.handler, call.pattern, eventName, event);
      }
      return this.completeShedding(event, eventName, syncErrors, pending.length);
    }
    const deadlines = this.deadlines;
    const a: AwaitedPublish = { event, eventName, pending, errors: syncErrors, left: pending.length, done: false, calling: true, deadline: deadlines.deadline(), resolve: noop };
    const promise = new Promise<void>((r) => {
      a.resolve = r;
    });
    if (a.resolve === noop) {
      // The executor could not even be entered: the Promise holds that RangeError. Mark it
      // handled (nobody will see it) and fail this publish, which has changed nothing.
      nativeThen.call(promise, undefined, noop);
      throw new RangeError('Maximum call stack size exceeded');
    }
    // The deadline: from here on, the bus's dispatch timer completes this publish at the
    // latest (DispatchDeadlines: unref'd, so a handler that never settles does not keep the
    // process alive; if the process ends first, that publish is simply never completed).
    deadlines.add(a);
    // The slot (step 2 above), with no call since add() returned.
    this.inFlight++;
    try {
      for (let i = 0; i < pending.length; i++) {
        const call = pending[i]!;
        this.asyncHandlers.add(call.handler);
        try {
          call.then.call(
            call.result,
            () => this.settledAwaited(a, call, false, undefined),
            (err: unknown) => this.settledAwaited(a, call, true, err),
          );
        } catch (err) {
          this.settledAwaited(a, call, true, err);
        }
      }
      a.calling = false;
      if (a.left === 0) this.completeAwaited(a);
    } catch {
      /* step 3 above: the timer completes the publish */
    }
    return promise;
  }

  /**
   * A thenable of an awaiting publish called back. The first callback decides and later
   * ones are ignored, as for a Promise: a thenable that fulfils and then throws, or calls
   * back twice, is one success.
   */
  private settledAwaited(a: AwaitedPublish, call: PendingCall, failed: boolean, err: unknown): void {
    if (a.done || call.settled) return;
    call.settled = true;
    a.left--;
    if (failed) {
      a.errors++;
      if (this.logSubscriberErrors) this.reportOne(call.pattern, a.eventName, a.event, err, 'failed');
    }
    if (a.left === 0 && !a.calling) this.completeAwaited(a);
  }

  /** Queues finishAwaited on a fresh stack (see settle()). */
  private completeAwaited(a: AwaitedPublish): void {
    try {
      // A reaction on a settled promise: a microtask, without the async-context resource
      // Node's queueMicrotask makes per call.
      nativeThen.call(SETTLED, () => this.finishAwaited(a));
    } catch {
      /* no stack left to queue it: the timer completes the publish */
    }
  }

  /** The end of an awaiting publish: by the timer or after its last thenable settled. Once. */
  private finishAwaited(a: AwaitedPublish): void {
    if (a.done) return;
    a.done = true;
    this.inFlight--;
    this.deadlines.ended();
    const { event, eventName, pending } = a;
    for (let i = 0; i < pending.length; i++) {
      const call = pending[i]!;
      if (call.settled) continue;
      a.errors++;
      if (this.logSubscriberErrors) this.reportOne(call.pattern, eventName, event, undefined, 'timeout');
    }
    const errors = a.errors;
    if (errors > 0 && !this.logSubscriberErrors) this.reportAggregate(eventName, event, errors);
    const lagged = this.broadcaster.publish(event);
    // The whole publish in one record (see the class comment).
    if (this.record) this.stats.recordPublish(lagged >= 0 ? PUB_HANDLED | PUB_BROADCAST : PUB_HANDLED, errors, lagged > 0 ? lagged : 0);
    a.resolve();
  }

  private reportOne(pattern: string, eventName: string, event: DomainEvent, err: unknown, reason: HandlerFailureReason): void {
    const rep = this.reporter;
    if (!rep.admit()) return;
    const e = new HandlerFailedError(pattern, eventName, err, reason);
    rep.write(`atomic-stats: bus "${this.name}": ${e.message}`, {
      bus: this.name,
      event_name: eventName,
      event_id: eventIdOf(event),
      pattern,
      reason,
      // Compact: the handler's own error message (the message above already names the
      // pattern and the event); with logStacks, the error itself.
      error: rep.stacks ? e : reason === 'failed' ? safeErrorText(err) : reason === 'timeout' ? 'did not settle within dispatchTimeoutMs' : 'shed: maxPendingDispatches reached',
    });
  }

  // reportOne with one argument fewer at publish()'s call site, which counts towards the
  // bytecode size V8 inlines (see the note in publish()).
  private reportThrow(pattern: string, eventName: string, event: DomainEvent, err: unknown): void {
    this.reportOne(pattern, eventName, event, err, 'failed');
  }

  private reportAggregate(eventName: string, event: DomainEvent, count: number, shed = 0): void {
    if (!this.reporter.admit()) return;
    this.reporter.write(
      `atomic-stats: bus "${this.name}": ${count} handler(s) failed on event "${eventName}"${shed > 0 ? ` (${shed} shed: maxPendingDispatches reached)` : ''}`,
      { bus: this.name, event_name: eventName, event_id: eventIdOf(event), error_count: count, shed_count: shed },
    );
  }

  /**
   * Writes the summary of the reports the rate limit suppressed so far and stops the
   * report timer. Handlers, receivers, counters and publishes in flight are not touched,
   * and the bus stays usable (a later report opens a new window). Call it at shutdown so
   * that no suppressed count goes unreported.
   */
  close(): void {
    this.reporter.flush();
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
  constructor(registry: RegistryCore, name: string) {
    this.o = { registry, name };
  }
  broadcastBufferSize(size: number): this {
    this.o.broadcastBufferSize = size;
    return this;
  }
  /** @deprecated Use {@link broadcastBufferSize}: the same method under its former name (removed in 0.3). */
  declare ffiChannelBufferSize: (size: number) => this;
  static {
    defineAliases(this.prototype, { ffiChannelBufferSize: 'broadcastBufferSize' });
  }
  logSubscriberErrors(enabled: boolean): this {
    this.o.logSubscriberErrors = enabled;
    return this;
  }
  dispatchTimeoutMs(ms: number): this {
    this.o.dispatchTimeoutMs = ms;
    return this;
  }
  maxPendingDispatches(n: number): this {
    this.o.maxPendingDispatches = n;
    return this;
  }
  maxReportsPerInterval(n: number): this {
    this.o.maxReportsPerInterval = n;
    return this;
  }
  reportIntervalMs(ms: number): this {
    this.o.reportIntervalMs = ms;
    return this;
  }
  logStacks(enabled: boolean): this {
    this.o.logStacks = enabled;
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
