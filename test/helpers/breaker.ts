// Shared by the breaker tests: fake clocks, raw access to a breaker's state word.
import { StatsRegistry, type BackendKind, type CircuitBreaker, type CircuitBreakerConfig } from '../../src/index.js';

/** A clock the test moves by hand. */
export class FakeClock {
  now: number;
  constructor(start = 1_000_000) {
    this.now = start;
  }
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export function breakerOn(
  backend: BackendKind,
  config?: CircuitBreakerConfig,
  clock = new FakeClock(),
  name = 'test',
): { registry: StatsRegistry; breaker: CircuitBreaker; clock: FakeClock } {
  const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
  const breaker = registry.circuitBreaker(name, config, { clock: clock.read });
  return { registry, breaker, clock };
}

interface Internals {
  binding: { i32: Int32Array; ctl: number };
}

/** The raw state word (white-box: the tests check that rejected input leaves it as it was). */
export function rawWord(b: CircuitBreaker): number {
  const { i32, ctl } = (b as unknown as Internals).binding;
  return Atomics.load(i32, ctl >>> 2);
}

/** Overwrites the state word, as memory corrupted by something else would. */
export function setRawWord(b: CircuitBreaker, word: number): void {
  const { i32, ctl } = (b as unknown as Internals).binding;
  Atomics.store(i32, ctl >>> 2, word);
}

/** Resolves with the next value `subscribe` delivers. */
export function nextEvent<T>(subscribe: (l: (v: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((v) => {
      off();
      resolve(v);
    });
  });
}
