/*
 * The bulkhead's kind: `registry.bulkhead(name, config?, options?)` gets or creates a
 * bulkhead record (its layout is bulkhead-core.ts) and binds this thread's Bulkhead to it;
 * `registry.bulkheads()` lists them; a scrape exports each through the collector below.
 */
import { type Clock, guardedClock, monotonicClock } from '../clock.js';
import { AtomicStatsError, InvalidOptionsError, NameConflictError } from '../errors.js';
import type { EntryCollector } from '../kind.js';
import { setGeometry } from '../layout.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { CounterSet, type SetPlacement } from '../sets/counter-set.js';
import { checkName, checkOptionsObject } from '../validate.js';
import { BULKHEAD_FIELDS, Bulkhead, type BulkheadBinding } from './bulkhead.js';
import { type BulkheadConfig, type ResolvedBulkheadConfig, resolveBulkheadConfig } from './bulkhead-config.js';
import { BulkheadCore, bulkheadGeometry } from './bulkhead-core.js';

/** Per-thread options of `registry.bulkhead` (not part of the shared config). */
export interface BulkheadOptions {
  /**
   * Where this thread reads time for the leases: milliseconds on a base shared by every
   * thread using the bulkhead (default: the process's monotonic clock). For tests and
   * simulations; a bad reading is replaced by this thread's last good one. Queue timeouts
   * always run on the monotonic clock.
   */
  clock?: Clock;
}

function layout(stripes: number, c: ResolvedBulkheadConfig) {
  const g = bulkheadGeometry(c.maxConcurrent, c.maxQueued);
  const counters = setGeometry(BULKHEAD_FIELDS.length, true, stripes);
  return { g, counters, dataBytes: g.countersOffset + counters.dataBytes };
}

/** The config in an existing bulkhead's signature (shared memory: parsed and validated like input). */
function storedConfig(name: string, signature: string): ResolvedBulkheadConfig {
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(signature) as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  if (parsed?.kind !== 'bulkhead') throw new NameConflictError(name, `an entry of another kind (${signature.slice(0, 200)})`, 'a bulkhead');
  const { kind: _kind, ...config } = parsed;
  return resolveBulkheadConfig(config);
}

/**
 * @internal The body of `StatsRegistry.bulkhead`. Without a config, an existing bulkhead
 * is opened with the config it was created with; there being none is an
 * InvalidOptionsError (a bulkhead's size has no default).
 */
export function openBulkhead(registry: RegistryCore, name: string, config?: BulkheadConfig, options?: BulkheadOptions): Bulkhead {
  registry.checkOpen();
  checkName(name);
  const o = checkOptionsObject(options, ['clock'], 'options');
  if (o.clock !== undefined && typeof o.clock !== 'function') throw new InvalidOptionsError('clock', 'must be a function returning milliseconds');
  let resolved: ResolvedBulkheadConfig;
  if (config === undefined) {
    const existing = registry.directory.find(name);
    if (existing === undefined) throw new InvalidOptionsError('config', `bulkhead "${name}" does not exist yet: give its config (maxConcurrent at least) to create it`);
    resolved = storedConfig(name, existing.signature);
  } else {
    resolved = resolveBulkheadConfig(config);
  }
  const l = layout(registry.stripes, resolved);
  const bulkhead = registry.openEntry(name, bulkheadKind, { ...resolved }, l.dataBytes, (dataOffset) => {
    const placement: SetPlacement = {
      setName: name,
      dataOffset: dataOffset + l.g.countersOffset,
      geometry: l.counters,
      ownedStripe: registry.ownedStripe(true),
    };
    const counters = new CounterSet(registry.ops.cells, placement, BULKHEAD_FIELDS);
    const core = new BulkheadCore(registry.views.i32, dataOffset, l.g, resolved.maxConcurrent, resolved.maxQueued, resolved.leaseMs, {
      admitted: counters.counter('admitted'),
      reclaimed: counters.counter('reclaimed'),
    });
    const binding: BulkheadBinding = { name, config: resolved, core, i32: registry.views.i32, counters, held: [] };
    return new Bulkhead(binding, monotonicClock);
  });
  return o.clock === undefined ? bulkhead : bulkhead.withClock(guardedClock(o.clock as Clock));
}

/** Every bulkhead of the registry, by name, each opened with the config it was created with. */
export function listBulkheads(registry: RegistryCore): Bulkhead[] {
  registry.checkOpen();
  return registry
    .entries()
    .filter((e) => e.kind === bulkheadKind.name)
    .map((e) => e.name)
    .sort()
    .map((name) => openBulkhead(registry, name));
}

// Counters, each a family (one with an outcome label): the metricsBigInt() key it reads.
const COUNTERS = [
  { name: 'bulkhead_calls_total', help: 'Calls that asked for a permit, by outcome.', unit: '{call}', key: 'admitted', outcome: 'admitted' },
  { name: 'bulkhead_calls_total', help: 'Calls that asked for a permit, by outcome.', unit: '{call}', key: 'rejected', outcome: 'rejected' },
  { name: 'bulkhead_calls_total', help: 'Calls that asked for a permit, by outcome.', unit: '{call}', key: 'queue_timeouts', outcome: 'queue_timeout' },
  { name: 'bulkhead_calls_total', help: 'Calls that asked for a permit, by outcome.', unit: '{call}', key: 'queue_aborts', outcome: 'queue_abort' },
  { name: 'bulkhead_enqueued_calls_total', help: 'Calls that waited in the queue for a permit.', unit: '{call}', key: 'enqueued' },
  { name: 'bulkhead_reclaimed_permits_total', help: 'Permits taken back from a holder whose lease ran out.', unit: '{permit}', key: 'reclaimed' },
  { name: 'bulkhead_late_releases_total', help: 'Releases of a permit already taken back.', unit: '{permit}', key: 'late_releases' },
] as const;

const bulkheadCollector: EntryCollector<RegistryCore> = {
  prepare(registry, prefix, record) {
    let b: Bulkhead;
    try {
      b = openBulkhead(registry, record.name, record.descriptor as BulkheadConfig);
    } catch (e) {
      if (!(e instanceof AtomicStatsError)) throw e;
      registry.reportCorrupt(record, e);
      return undefined;
    }
    const plain = Object.freeze({ name: record.name });
    const labels = COUNTERS.map((r) => ('outcome' in r ? Object.freeze({ name: record.name, outcome: r.outcome }) : plain));
    const { maxConcurrent, maxQueued } = b.config;
    return (out) => {
      const m = b.metricsBigInt();
      out.add(`${prefix}bulkhead_active_calls`, 'gauge', 'Calls holding a permit now.', '{call}', plain, Number(m.active), true);
      out.add(`${prefix}bulkhead_queued_calls`, 'gauge', 'Calls waiting in the queue now.', '{call}', plain, Number(m.queued), true);
      out.add(`${prefix}bulkhead_max_concurrent_calls`, 'gauge', 'Permits: the most calls that may run at once (maxConcurrent).', '{call}', plain, maxConcurrent, true);
      out.add(`${prefix}bulkhead_max_queued_calls`, 'gauge', 'Places in the queue (maxQueued).', '{call}', plain, maxQueued, true);
      for (let i = 0; i < COUNTERS.length; i++) {
        const r = COUNTERS[i]!;
        out.add(prefix + r.name, 'counter', r.help, r.unit, labels[i]!, m[r.key]);
      }
    };
  },
};

/** The bulkheads' kind. */
export const bulkheadKind = {
  name: 'bulkhead',
  code: 10,
  dataBytes: (d, stripes) => {
    try {
      return layout(stripes, resolveBulkheadConfig(d)).dataBytes;
    } catch {
      return 'its config is not a bulkhead config';
    }
  },
  collector: bulkheadCollector,
  open: openBulkhead,
} satisfies Kind;
