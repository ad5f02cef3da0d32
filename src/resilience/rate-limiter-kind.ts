/*
 * The rate limiter's kind: `registry.rateLimiter(name, config?, options?)` gets or creates
 * a limiter record and binds this thread's RateLimiter to it; `registry.rateLimiters()`
 * lists them; a scrape exports each through the collector below.
 *
 * Record data: one 128-byte block whose first 8 bytes are the bucket's word (the TAT,
 * rate-limiter-core.ts; the block to itself, so counter traffic does not share its cache
 * line), then the counters (a striped counter set). A fresh record is all zero: a TAT
 * of 0 is in the past, a full bucket.
 */
import { type Clock, guardedClock, monotonicClock } from '../clock.js';
import { AtomicStatsError, InvalidOptionsError, NameConflictError } from '../errors.js';
import type { EntryCollector } from '../kind.js';
import { BLOCK, setGeometry } from '../layout.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { CounterSet, type SetPlacement } from '../sets/counter-set.js';
import { checkName, checkOptionsObject } from '../validate.js';
import { RATE_LIMITER_FIELDS, RateLimiter, type RateLimiterBinding } from './rate-limiter.js';
import { type RateLimiterConfig, type ResolvedRateLimiterConfig, resolveRateLimiterConfig } from './rate-limiter-config.js';
import { RateLimiterCore } from './rate-limiter-core.js';

/** Per-thread options of `registry.rateLimiter` (not part of the shared config). */
export interface RateLimiterOptions {
  /**
   * Where this thread reads time: milliseconds on a base shared by every thread using the
   * limiter (default: the process's monotonic clock). For tests and simulations; a bad
   * reading is replaced by this thread's last good one. acquire's waits run on timers.
   */
  clock?: Clock;
}

function layout(stripes: number) {
  const counters = setGeometry(RATE_LIMITER_FIELDS.length, true, stripes);
  return { counters, dataBytes: BLOCK + counters.dataBytes };
}

function storedConfig(name: string, signature: string): ResolvedRateLimiterConfig {
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(signature) as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  if (parsed?.kind !== 'rateLimiter') throw new NameConflictError(name, `an entry of another kind (${signature.slice(0, 200)})`, 'a rateLimiter');
  const { kind: _kind, ...config } = parsed;
  return resolveRateLimiterConfig(config);
}

/** @internal The body of `StatsRegistry.rateLimiter`. */
export function openRateLimiter(registry: RegistryCore, name: string, config?: RateLimiterConfig, options?: RateLimiterOptions): RateLimiter {
  registry.checkOpen();
  checkName(name);
  const o = checkOptionsObject(options, ['clock'], 'options');
  if (o.clock !== undefined && typeof o.clock !== 'function') throw new InvalidOptionsError('clock', 'must be a function returning milliseconds');
  let resolved: ResolvedRateLimiterConfig;
  if (config === undefined) {
    const existing = registry.directory.find(name);
    if (existing === undefined) throw new InvalidOptionsError('config', `rate limiter "${name}" does not exist yet: give its config (tokensPerInterval and intervalMs at least) to create it`);
    resolved = storedConfig(name, existing.signature);
  } else {
    resolved = resolveRateLimiterConfig(config);
  }
  const l = layout(registry.stripes);
  const limiter = registry.openEntry(name, rateLimiterKind, { ...resolved }, l.dataBytes, (dataOffset) => {
    const placement: SetPlacement = {
      setName: name,
      dataOffset: dataOffset + BLOCK,
      geometry: l.counters,
      ownedStripe: registry.ownedStripe(true),
    };
    const counters = new CounterSet(registry.ops.cells, placement, RATE_LIMITER_FIELDS);
    const core = new RateLimiterCore(new BigInt64Array(registry.views.i32.buffer), dataOffset, resolved.tokensPerInterval, resolved.intervalMs, resolved.burst);
    const binding: RateLimiterBinding = { name, config: resolved, core, counters };
    return new RateLimiter(binding, monotonicClock);
  });
  return o.clock === undefined ? limiter : limiter.withClock(guardedClock(o.clock as Clock));
}

/** Every rate limiter of the registry, by name. */
export function listRateLimiters(registry: RegistryCore): RateLimiter[] {
  registry.checkOpen();
  return registry
    .entries()
    .filter((e) => e.kind === rateLimiterKind.name)
    .map((e) => e.name)
    .sort()
    .map((name) => openRateLimiter(registry, name));
}

const COUNTERS = [
  { name: 'rate_limiter_requests_total', help: 'Token requests, by outcome.', unit: '{request}', key: 'granted', outcome: 'granted' },
  { name: 'rate_limiter_requests_total', help: 'Token requests, by outcome.', unit: '{request}', key: 'refused', outcome: 'refused' },
  { name: 'rate_limiter_granted_tokens_total', help: 'Tokens granted.', unit: '{token}', key: 'granted_tokens' },
  { name: 'rate_limiter_waited_requests_total', help: 'Grants that waited for their tokens.', unit: '{request}', key: 'waited' },
  { name: 'rate_limiter_wait_seconds_total', help: 'Summed waits of the grants that waited.', unit: 's', key: 'waited_ms_total', ms: true },
  { name: 'rate_limiter_aborted_requests_total', help: 'Waiting requests aborted by their caller.', unit: '{request}', key: 'aborted' },
] as const;

const rateLimiterCollector: EntryCollector<RegistryCore> = {
  prepare(registry, prefix, record) {
    let r: RateLimiter;
    try {
      r = openRateLimiter(registry, record.name, record.descriptor as RateLimiterConfig);
    } catch (e) {
      if (!(e instanceof AtomicStatsError)) throw e;
      registry.reportCorrupt(record, e);
      return undefined;
    }
    const plain = Object.freeze({ name: record.name });
    const labels = COUNTERS.map((c) => ('outcome' in c ? Object.freeze({ name: record.name, outcome: c.outcome }) : plain));
    return (out) => {
      const m = r.metricsBigInt();
      out.add(`${prefix}rate_limiter_available_tokens`, 'gauge', 'Whole tokens in the bucket now.', '{token}', plain, Number(m.tokens), true);
      for (let i = 0; i < COUNTERS.length; i++) {
        const c = COUNTERS[i]!;
        const v = m[c.key];
        out.add(prefix + c.name, 'counter', c.help, c.unit, labels[i]!, 'ms' in c ? Number(v) / 1e3 : v);
      }
    };
  },
};

/** The rate limiters' kind. */
export const rateLimiterKind = {
  name: 'rateLimiter',
  code: 11,
  dataBytes: (d, stripes) => {
    try {
      resolveRateLimiterConfig(d);
      return layout(stripes).dataBytes;
    } catch {
      return 'its config is not a rate limiter config';
    }
  },
  collector: rateLimiterCollector,
  open: openRateLimiter,
} satisfies Kind;
