/*
 * The circuit breaker's kind: `registry.circuitBreaker(name, config?, options?)` gets or
 * creates a breaker record (its layout is ops/breaker-layout.ts) and binds this thread's
 * CircuitBreaker to it; a scrape exports each breaker through collect.ts's collector.
 */
import { type Clock, monotonicClock } from '../clock.js';
import { InvalidOptionsError, NameConflictError, describe } from '../errors.js';
import { BREAKER_DURATIONS, checkDurationsName, durationSeries } from '../kinds/durations.js';
import { cellAddresses } from '../layout.js';
import { COUNTER_FIELDS, OUTCOME_FIELDS, breakerGeometry } from '../ops/breaker-layout.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { CounterSet, type SetPlacement } from '../sets/counter-set.js';
import { bool, checkName, checkOptionsObject } from '../validate.js';
import { CircuitBreaker, type BreakerBinding, type BreakerThreadOptions } from './circuit-breaker.js';
import { breakerCollector } from './collect.js';
import { BreakerEvents } from './events.js';
import { type CircuitBreakerConfig, type ResolvedBreakerConfig, resolveConfig } from './config.js';
import type { FailurePredicate } from './execute.js';
import { StateWatcher } from './notify.js';

/** Per-thread options of `registry.circuitBreaker` (not part of the shared config). */
export interface CircuitBreakerOptions {
  /**
   * Where this thread reads time for the breaker: milliseconds on a base shared by every
   * thread using the breaker. Default: the process's monotonic clock (docs/circuit-breaker.md).
   * Meant for tests and simulations: a fake clock must be shared by all the threads it
   * drives (e.g. read from a SharedArrayBuffer). A reading that is not a finite number, or
   * a throw, is replaced by this thread's last good reading (time stands still), never
   * lost: see docs/circuit-breaker.md, "Probe lease".
   */
  clock?: Clock;
  /**
   * Which errors count as failures for this thread's `call` and `callSync` (default:
   * every error). An error it answers with a falsy value still reaches the caller, but the
   * dependency did answer, so the call is recorded as a success (success_count; it resets
   * consecutive failures; in HalfOpen it is a successful probe). If it throws, the error
   * counts as a failure. Timeouts always count as failures. Not used by `recordFailure`.
   */
  isFailure?: FailurePredicate;
  /**
   * Also observe every result this thread records (through `call`, `callSync` or the
   * guard) into the shared histogram `atomic_stats_circuit_breaker_call_latency_seconds{name}`,
   * so p50/p99 of call durations across every thread are exported. Per thread: each thread
   * whose calls should count opens the breaker with it. Default false (it costs one more
   * call into the core per record).
   */
  durations?: boolean;
}

const KNOWN_OPTIONS = ['clock', 'isFailure', 'durations'];

function checkOptions(options: unknown): { clock: Clock | undefined; isFailure: FailurePredicate | undefined; durations: boolean } {
  const o = checkOptionsObject(options, KNOWN_OPTIONS, 'options');
  const durations = bool(o, 'durations', false);
  if (o.clock !== undefined && typeof o.clock !== 'function') throw new InvalidOptionsError('clock', 'must be a function returning milliseconds');
  if (o.isFailure !== undefined && typeof o.isFailure !== 'function') {
    throw new InvalidOptionsError('isFailure', `must be a function (error) => boolean, got ${describe(o.isFailure)}`);
  }
  return { clock: o.clock as Clock | undefined, isFailure: o.isFailure as FailurePredicate | undefined, durations };
}

/**
 * The config recorded in an existing breaker's signature (read from shared memory, so
 * parsed and validated like user input before it is used).
 */
function storedConfig(name: string, signature: string): ResolvedBreakerConfig {
  try {
    const { kind, ...config } = JSON.parse(signature) as Record<string, unknown>;
    if (kind === 'circuitBreaker') return resolveConfig(config);
  } catch {
    // Reported below.
  }
  throw new NameConflictError(name, `an entry this build cannot read (${signature.slice(0, 200)})`, 'a circuitBreaker');
}

/**
 * @internal The body of `StatsRegistry.circuitBreaker`. Without a config, any existing
 * breaker of that name is opened with the config it was created with; none is created
 * with the defaults.
 */
export function openCircuitBreaker(registry: RegistryCore, name: string, config?: CircuitBreakerConfig, options?: CircuitBreakerOptions): CircuitBreaker {
  checkName(name);
  const resolved = resolveConfig(config);
  const o = checkOptions(options);
  if (o.durations) checkDurationsName(BREAKER_DURATIONS, name);
  const geometry = breakerGeometry(registry.stripes, resolved.windowMs !== null);
  const anyConfig = config === undefined;
  const breaker = registry.openEntry(
    name,
    circuitBreakerKind,
    { ...resolved },
    geometry.dataBytes,
    (dataOffset, signature) => {
      // Opened by name: the config (and so the layout: the rate window's ring is there only
      // when the policy is on) is the one the breaker was created with.
      const cfg = anyConfig ? storedConfig(name, signature) : resolved;
      const g = anyConfig ? breakerGeometry(registry.stripes, cfg.windowMs !== null) : geometry;
      const ctl = dataOffset + g.controlOffset;
      const placement: SetPlacement = {
        setName: name,
        dataOffset: dataOffset + g.countersOffset,
        geometry: g.counters,
        ownedStripe: registry.ownedStripe(true),
      };
      const stripe = placement.ownedStripe < 0 ? 0 : cellAddresses(g.counters, placement.dataOffset, 0, placement.ownedStripe).low;
      const binding: BreakerBinding = {
        name,
        config: cfg,
        backend: registry.backend,
        ctl,
        stripe,
        ops: registry.ops.breaker,
        i32: registry.views.i32,
        counters: new CounterSet(registry.ops.cells, placement, COUNTER_FIELDS),
        outcomes: new CounterSet(registry.ops.cells, { ...placement, dataOffset: dataOffset + g.outcomesOffset, geometry: g.outcomes, ownedStripe: -1 }, OUTCOME_FIELDS),
        events: new BreakerEvents(),
        watcher: new StateWatcher(registry.views.i32, ctl),
        i64: cfg.windowMs === null ? undefined : new BigInt64Array(registry.views.i32.buffer),
        track: (b) => registry.trackWriter(b),
      };
      return new CircuitBreaker(binding, DEFAULT_THREAD_OPTIONS);
    },
    anyConfig,
  );
  if (o.clock === undefined && o.isFailure === undefined && !o.durations) return breaker;
  const threadOptions: BreakerThreadOptions = {
    clock: o.clock ?? monotonicClock,
    isFailure: o.isFailure,
    durations: o.durations ? durationSeries(registry, BREAKER_DURATIONS, name) : undefined,
  };
  return breaker.withOptions(threadOptions);
}

const DEFAULT_THREAD_OPTIONS: BreakerThreadOptions = Object.freeze({ clock: monotonicClock, isFailure: undefined, durations: undefined });

/** The circuit breakers' kind. */
export const circuitBreakerKind = {
  name: 'circuitBreaker',
  code: 5,
  // The rate window's ring is there only when the policy is on (ops/breaker-layout.ts).
  dataBytes: (d, stripes) => breakerGeometry(stripes, d.windowMs !== null && d.windowMs !== undefined).dataBytes,
  collector: breakerCollector((registry, name, config) => openCircuitBreaker(registry, name, config)),
  open: openCircuitBreaker,
} satisfies Kind;
