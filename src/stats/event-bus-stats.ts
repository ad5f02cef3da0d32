import { TWO32, checkCount, highWord } from '../count.js';
import { defineAliases } from '../deprecated.js';
import type { Counter } from '../sets/counter-set.js';
import { InvalidCountError } from '../errors.js';
import { UnsafeIntegerError } from '../errors.js';
import type { Row } from '../export/entry-collector.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { setBytes } from '../sets/records.js';
import { structCollector } from './collect.js';
import { BUS_COUNT_FIELDS, BUS_FIELDS, type BusCountField, BUS_OUTCOME_FIRST, type BusField, foldBusOutcomes } from './fields.js';
import { type StatsOptions, type StatsPlacement, openStats } from './open.js';
import { StatsStruct } from './struct.js';

/** The live fields of a bus snapshot: read from the bus itself, not stored counters. */
export interface EventBusLiveCounts {
  /** Distinct pattern strings with at least one handler. */
  rust_subscriber_patterns: number;
  /** Handlers over all patterns. */
  rust_handler_count: number;
  /** Broadcast receivers open now. */
  ffi_subscriber_count: number;
}

/** Snapshot DTO `InProcessEventBusStats`: snake_case keys, fixed so that the JSON stays stable (docs/event-bus-and-subscriber.md). */
export interface InProcessEventBusStats extends EventBusLiveCounts {
  total_events_dispatched: number;
  rust_handler_dispatches: number;
  ffi_channel_dispatches: number;
  rust_handler_errors: number;
  ffi_channel_drops: number;
  /** Events lost by receivers that fell more than `broadcastBufferSize` behind. */
  ffi_channel_lagged: number;
  /**
   * Handler calls left out because `maxPendingDispatches` publishes were already awaiting
   * handlers. Each is also counted in `rust_handler_errors`.
   */
  rust_handler_shed: number;
}

/** The same with every stored counter exact. */
export interface InProcessEventBusBigIntStats extends EventBusLiveCounts {
  total_events_dispatched: bigint;
  rust_handler_dispatches: bigint;
  ffi_channel_dispatches: bigint;
  rust_handler_errors: bigint;
  ffi_channel_drops: bigint;
  ffi_channel_lagged: bigint;
  rust_handler_shed: bigint;
}

const NO_LIVE: EventBusLiveCounts = { rust_subscriber_patterns: 0, rust_handler_count: 0, ffi_subscriber_count: 0 };

function checkLive(live: unknown): EventBusLiveCounts {
  if (live === undefined) return NO_LIVE;
  if (live === null || typeof live !== 'object') throw new InvalidCountError(live, 'live counts must be an object');
  const l = live as Record<string, unknown>;
  for (const key of ['rust_subscriber_patterns', 'rust_handler_count', 'ffi_subscriber_count'] as const) {
    const v = l[key];
    if (v !== undefined) checkCount(v);
  }
  return {
    rust_subscriber_patterns: (l.rust_subscriber_patterns as number | undefined) ?? 0,
    rust_handler_count: (l.rust_handler_count as number | undefined) ?? 0,
    ffi_subscriber_count: (l.ffi_subscriber_count as number | undefined) ?? 0,
  };
}

/**
 * The counters of an event bus, shared by every thread that opens the same name
 * (`registry.eventBusStats(name)`); InProcessEventBus records into one, and a bus of your
 * own can too. Every record method is one call into the backend.
 *
 * Counters are independent u64 cells: no ordering between them is promised and a
 * snapshot is a set of individually atomic reads, not a transaction. So
 * `total_events_dispatched == ffi_channel_dispatches + ffi_channel_drops` holds whenever
 * no publish is being recorded, not necessarily in a snapshot taken during a record.
 * InProcessEventBus records each publish in one call once it has completed (a publish
 * awaiting its handlers is not counted yet), and that call is whole or absent in a thread
 * terminated at any instant: its counts add up for good, whatever becomes of its threads.
 * A bus of your own that records a publish through several of the methods below has it
 * in flight between them.
 */
export class EventBusStats extends StatsStruct<BusField> {
  private readonly c: Readonly<Record<BusCountField, Counter>>;
  // The outcome cells (fields.ts), indexed by PUB_HANDLED | PUB_BROADCAST flags, and the inline
  // write path to this thread's own stripe of them (see countPublish).
  private readonly outcomes: readonly Counter[];
  private readonly cells: readonly Counter[];
  // Not readonly: retireStripe() turns the inline path off.
  private words: Int32Array | undefined;
  private readonly outcomeWord: number;

  /** @internal */
  constructor(name: string, p: StatsPlacement<BusField>) {
    super(name, p);
    this.c = {
      total_events_dispatched: p.set.counter('total_events_dispatched'),
      handler_dispatches: p.set.counter('handler_dispatches'),
      broadcast_dispatches: p.set.counter('broadcast_dispatches'),
      handler_errors: p.set.counter('handler_errors'),
      broadcast_drops: p.set.counter('broadcast_drops'),
      broadcast_lagged_events: p.set.counter('broadcast_lagged_events'),
      handler_sheds: p.set.counter('handler_sheds'),
    };
    this.cells = BUS_FIELDS.map((f) => p.set.counter(f));
    this.outcomes = this.cells.slice(BUS_OUTCOME_FIRST);
    this.words = p.inlineWords;
    this.outcomeWord = (p.a >>> 2) + BUS_OUTCOME_FIRST;
  }

  /**
   * @internal A plain publish: no handler failed and no receiver lagged. `flags` is
   * PUB_HANDLED (handlers were registered) | PUB_BROADCAST (an open receiver got it). Adds 1
   * to the one outcome cell for that case instead of 2 or 3 to the counts: the snapshot
   * folds the outcome cells back in. With a stripe of its own, a thread's common case is
   * one plain load and store of the tagged low word; carries and threads without a stripe
   * take the counter's own path. InProcessEventBus.publish does the common case itself
   * (see ownedOutcomeWords) and comes here for the rest.
   */
  countPublish(flags: number): void {
    const u = this.words;
    if (u !== undefined) {
      const i = this.outcomeWord + flags;
      const w = u[i]!;
      const t = (w & 0xffffff) + 1;
      if (t <= 0xffffff) {
        u[i] = (w & -16777216) | t;
        return;
      }
    }
    this.outcomes[flags]!.inc();
  }

  /**
   * @internal Where a plain publish is counted when this thread owns a stripe: the memory
   * as 32-bit words and the index of outcome cell 0 (add the PUB_* flags), or undefined
   * without an owned stripe. A bus keeps these two in fields of its own and stores inline:
   * measured on Node 20, going through this object on every publish (its map check, then
   * its typed array's length and data pointer) cost 1.7 ns of a 3.8 ns publish, loads
   * from the bus itself, which V8 already holds in the caller's optimized loop, 0.4 ns. Whoever keeps them must drop them when retireStripe() runs: after
   * it the stripe belongs to another thread.
   */
  ownedOutcomeWords(): { readonly words: Int32Array; readonly first: number } | undefined {
    return this.words === undefined ? undefined : { words: this.words, first: this.outcomeWord };
  }

  /**
   * @internal Records go to the shared cells from now on: the registry object this was
   * opened through is handing its stripe back (RegistryCore.releaseStripe).
   */
  override retireStripe(): void {
    // The inline store to the owned stripe must stop before the stripe is handed back;
    // the outcome counters become shared ones with the rest of the set.
    this.words = undefined;
    super.retireStripe();
  }

  /** `total_events_dispatched += 1`. */
  recordDispatch(): void {
    this.c.total_events_dispatched.inc();
  }

  /**
   * One dispatch to the in-process handlers: `rust_handler_dispatches += 1` and
   * `rust_handler_errors += errorCount`, in one backend call. `errorCount` is a safe
   * non-negative integer; anything else throws InvalidCountError and records nothing.
   */
  recordHandlerDispatch(errorCount = 0): void {
    if (typeof errorCount === 'number' && (errorCount >>> 0) === errorCount && errorCount < 0x40000000 /* OWNED_ADD_LIMIT, literal: see counter-set.ts */) {
      this.k.busHandlerStep(this.a, this.b, errorCount, 0);
      return;
    }
    checkCount(errorCount);
    const hi = highWord(errorCount);
    this.sharedK.busHandlerStep(this.sharedA, 0, errorCount - hi * TWO32, hi);
  }

  /** `ffi_channel_dispatches += 1`: an event went to the open broadcast receivers (once per event). */
  recordBroadcastDispatch(): void {
    this.c.broadcast_dispatches.inc();
  }

  /** `ffi_channel_drops += 1`: an event found no open broadcast receiver. */
  recordBroadcastDrop(): void {
    this.c.broadcast_drops.inc();
  }

  /** `ffi_channel_lagged += count`: events broadcast receivers lost by falling behind. */
  recordBroadcastLagged(count: number): void {
    if (typeof count !== 'number') checkCount(count);
    this.c.broadcast_lagged_events.add(count);
  }

  /** @deprecated Use {@link recordHandlerDispatch}: this is the same method under its former name (removed in 0.3). */
  declare recordRustDispatch: (errorCount?: number) => void;
  /** @deprecated Use {@link recordBroadcastDispatch}: the same method under its former name (removed in 0.3). */
  declare recordFfiDispatch: () => void;
  /** @deprecated Use {@link recordBroadcastDrop}: the same method under its former name (removed in 0.3). */
  declare recordFfiDrop: () => void;
  /** @deprecated Use {@link recordBroadcastLagged}: the same method under its former name (removed in 0.3). */
  declare recordFfiLagged: (count: number) => void;
  static {
    defineAliases(this.prototype, {
      recordRustDispatch: 'recordHandlerDispatch',
      recordFfiDispatch: 'recordBroadcastDispatch',
      recordFfiDrop: 'recordBroadcastDrop',
      recordFfiLagged: 'recordBroadcastLagged',
    });
  }

  /**
   * `rust_handler_shed += count`: handler calls a saturated bus left out. The bus counts
   * them in `rust_handler_errors` too, through the publish's own record.
   */
  recordHandlerShed(count: number): void {
    this.c.handler_sheds.add(count);
  }

  /**
   * @internal A whole publish in one call: total += 1, the handler step when `flags &
   * PUB_HANDLED` (with `errors` failures), one broadcast dispatch (`flags & PUB_BROADCAST`)
   * or one drop, and `lagged` lost events. `errors` and `lagged` are non-negative int32s.
   */
  recordPublish(flags: number, errors: number, lagged: number): void {
    if ((errors | lagged) < 0x40000000 /* OWNED_ADD_LIMIT */) this.k.busPublish(this.a, this.b, flags, errors, lagged);
    else this.sharedK.busPublish(this.sharedA, 0, flags, errors, lagged);
  }

  /**
   * Number snapshot with the live fields you pass (0 when omitted). Throws
   * UnsafeIntegerError rather than round a counter above 2^53 - 1; see
   * {@link snapshotBigInt}.
   */
  snapshot(live?: Partial<EventBusLiveCounts>): InProcessEventBusStats {
    const b = this.snapshotBigInt(live);
    const num = (field: keyof InProcessEventBusBigIntStats): number => {
      const v = b[field] as bigint;
      if (v > 9007199254740991n) throw new UnsafeIntegerError(this.name, field);
      return Number(v);
    };
    return {
      total_events_dispatched: num('total_events_dispatched'),
      rust_handler_dispatches: num('rust_handler_dispatches'),
      ffi_channel_dispatches: num('ffi_channel_dispatches'),
      rust_handler_errors: num('rust_handler_errors'),
      ffi_channel_drops: num('ffi_channel_drops'),
      ffi_channel_lagged: num('ffi_channel_lagged'),
      rust_handler_shed: num('rust_handler_shed'),
      rust_subscriber_patterns: b.rust_subscriber_patterns,
      rust_handler_count: b.rust_handler_count,
      ffi_subscriber_count: b.ffi_subscriber_count,
    };
  }

  /** Exact snapshot: every stored counter a bigint. */
  snapshotBigInt(live?: Partial<EventBusLiveCounts>): InProcessEventBusBigIntStats {
    const l = checkLive(live);
    const raw = {} as Record<BusField, bigint>;
    BUS_FIELDS.forEach((f, i) => {
      raw[f] = this.cells[i]!.valueBigInt();
    });
    const d = foldBusOutcomes(raw);
    return {
      // The DTO's historical keys, each read from the count it has always meant.
      total_events_dispatched: d.total_events_dispatched,
      rust_handler_dispatches: d.handler_dispatches,
      ffi_channel_dispatches: d.broadcast_dispatches,
      rust_handler_errors: d.handler_errors,
      ffi_channel_drops: d.broadcast_drops,
      ffi_channel_lagged: d.broadcast_lagged_events,
      rust_handler_shed: d.handler_sheds,
      rust_subscriber_patterns: l.rust_subscriber_patterns,
      rust_handler_count: l.rust_handler_count,
      ffi_subscriber_count: l.ffi_subscriber_count,
    };
  }
}

const ROWS: readonly Row[] = [
  { name: 'event_bus_events_published_total', help: 'Events published.', unit: '{event}', field: 0, conv: 'count' },
  { name: 'event_bus_handler_dispatches_total', help: 'Publishes that ran the in-process handlers (at least one handler subscribed).', unit: '{event}', field: 1, conv: 'count' },
  { name: 'event_bus_broadcast_dispatches_total', help: 'Publishes delivered to at least one open broadcast receiver.', unit: '{event}', field: 2, conv: 'count' },
  { name: 'event_bus_handler_errors_total', help: 'Handler failures (throws, rejections, timeouts).', unit: '{error}', field: 3, conv: 'count' },
  { name: 'event_bus_broadcast_drops_total', help: 'Publishes with no open broadcast receiver.', unit: '{event}', field: 4, conv: 'count' },
  { name: 'event_bus_broadcast_lagged_events_total', help: 'Events lost by broadcast receivers that fell too far behind.', unit: '{event}', field: 5, conv: 'count' },
  { name: 'event_bus_handler_sheds_total', help: 'Handler calls left out because the bus already had maxPendingDispatches publishes awaiting handlers (also counted as handler errors).', unit: '{call}', field: 6, conv: 'count' },
];

// The bus's outcome cells folded into the counts they stand for (fields.ts); rows index
// the result in BUS_COUNT_FIELDS order.
function foldBus(values: readonly bigint[]): readonly bigint[] {
  const raw = {} as Record<BusField, bigint>;
  BUS_FIELDS.forEach((f, i) => {
    raw[f] = values[i]!;
  });
  const counts = foldBusOutcomes(raw);
  return BUS_COUNT_FIELDS.map((f) => counts[f]);
}

/** The event-bus stats' kind: a struct of BUS_FIELDS. */
export const eventBusStatsKind = {
  name: 'eventBusStats',
  code: 3,
  dataBytes: setBytes,
  collector: structCollector(BUS_FIELDS, ROWS, foldBus),

  /** The body of `StatsRegistry.eventBusStats`; a bus opens its stats through it. */
  open(registry: RegistryCore, name: string, options?: StatsOptions): EventBusStats {
    registry.checkOpen();
    return openStats(registry, eventBusStatsKind, name, BUS_FIELDS, options, (p) => new EventBusStats(name, p));
  },
} satisfies Kind;
