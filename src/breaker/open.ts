import { CounterSet, type SetPlacement } from '../counter-set.js';
import { cellAddresses } from '../layout.js';
import { InvalidOptionsError } from '../errors.js';
import { checkOptionsObject } from '../options.js';
import { type StatsRegistry, checkName } from '../registry.js';
import { CircuitBreaker, type BreakerBinding } from './circuit-breaker.js';
import { type Clock, monotonicClock } from './clock.js';
import { type CircuitBreakerConfig, resolveConfig } from './config.js';
import { COUNTER_FIELDS, breakerGeometry } from './layout.js';
import { StateWatcher } from './notify.js';
import { jsBreakerOps } from './ops-js.js';
import { wasmBreakerOps } from './ops-wasm.js';

/** Per-thread options of `registry.circuitBreaker` (not part of the shared config). */
export interface CircuitBreakerOptions {
  /**
   * Where this thread reads time for the breaker: milliseconds on a base shared by every
   * thread using the breaker. Default: the process's monotonic clock (see the README, "Circuit breaker").
   * Meant for tests and simulations: a fake clock must be shared by all the threads it
   * drives (e.g. read from a SharedArrayBuffer). A reading that is not a finite number, or
   * a throw, is replaced by this thread's last good reading (time stands still), never
   * lost: see docs/breaker-policies.md.
   */
  clock?: Clock;
}

function checkOptions(options: unknown): Clock | undefined {
  const clock = checkOptionsObject(options, ['clock'], 'options').clock;
  if (clock !== undefined && typeof clock !== 'function') throw new InvalidOptionsError('clock', 'must be a function returning milliseconds');
  return clock as Clock | undefined;
}

/** @internal The body of `StatsRegistry.circuitBreaker`. */
export function openCircuitBreaker(registry: StatsRegistry, name: string, config?: CircuitBreakerConfig, options?: CircuitBreakerOptions): CircuitBreaker {
  checkName(name);
  const resolved = resolveConfig(config);
  const clock = checkOptions(options);
  const geometry = breakerGeometry(registry.stripes, resolved.windowMs !== null);
  const breaker = registry.openEntry(name, 'circuitBreaker', { ...resolved }, geometry.dataBytes, (dataOffset) => {
    const ctl = dataOffset + geometry.controlOffset;
    const placement: SetPlacement = {
      setName: name,
      dataOffset: dataOffset + geometry.countersOffset,
      geometry: geometry.counters,
      ownedStripe: registry.ownedStripe(true),
    };
    const stripe = placement.ownedStripe < 0 ? 0 : cellAddresses(geometry.counters, placement.dataOffset, 0, placement.ownedStripe).low;
    const binding: BreakerBinding = {
      name,
      config: resolved,
      backend: registry.backend,
      ctl,
      stripe,
      ops: registry.core !== undefined ? wasmBreakerOps(registry.core) : jsBreakerOps(registry.views.i32, registry.ops),
      i32: registry.views.i32,
      counters: new CounterSet(registry.ops, placement, COUNTER_FIELDS),
      watcher: new StateWatcher(registry.views.i32, ctl),
      i64: resolved.windowMs === null ? undefined : new BigInt64Array(registry.views.i32.buffer),
      track: (b) => registry.trackWriter(b),
    };
    return new CircuitBreaker(binding, monotonicClock);
  });
  return clock === undefined ? breaker : breaker.withClock(clock);
}
