/*
 * Model-based test: random sequences of permit / success / failure / clock advance /
 * force, run against the real breaker and against a reference model written plainly
 * below, comparing the permit answers, the state and the whole BigInt snapshot after
 * every step. Each run has its own random config and clock origin (origins near 2^30 and
 * 2^32 cross the wrap-around of the 30-bit stamp and of int32). Runs on the wasm backend,
 * on the js backend, and on both at once (two attachments of one memory, each step
 * picking one), so the two implementations must agree with the model and interoperate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatsRegistry, type CircuitBreaker, type CircuitState } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';

const RUNS = 1000;

interface Config {
  failureThreshold: number;
  timeoutMs: number;
  successThreshold: number;
}

/** The reference: SPEC §3 as plain sequential code, with exact BigInt counters. */
class Model {
  state: CircuitState = 'Closed';
  consecutive = 0;
  trip = 0;
  openedAt = 0;
  claims = 0;
  halfOpenSuccesses = 0;
  totalCalls = 0n;
  successes = 0n;
  failures = 0n;
  duration = 0n;
  rejected = 0n;
  timesOpened = 0n;

  constructor(
    readonly config: Config,
    public now: number,
  ) {}

  private open(): void {
    this.state = 'Open';
    // Stamped rounded up, compared rounded down: a probe is never admitted early.
    this.openedAt = Math.ceil(this.now);
    this.claims = 0;
    this.halfOpenSuccesses = 0;
    this.timesOpened++;
  }

  private record(d: number): void {
    this.totalCalls++;
    this.duration = (this.duration + BigInt(Math.floor(d))) % 2n ** 64n;
  }

  acquire(): boolean {
    if (this.state === 'Closed') return true;
    if (this.state === 'HalfOpen' && this.claims < this.config.successThreshold) {
      this.claims++;
      return true;
    }
    if (this.state === 'Open' && Math.floor(this.now) - this.openedAt >= this.config.timeoutMs) {
      this.state = 'HalfOpen';
      this.claims = 1;
      this.halfOpenSuccesses = 0;
      return true;
    }
    this.rejected++;
    return false;
  }

  success(d: number): void {
    this.record(d);
    this.successes++;
    if (this.state === 'Closed') this.consecutive = 0;
    else if (this.state === 'HalfOpen') {
      this.halfOpenSuccesses++;
      if (this.halfOpenSuccesses >= this.config.successThreshold) this.close();
    }
  }

  failure(d: number): void {
    this.record(d);
    this.failures++;
    if (this.state === 'Closed') {
      this.consecutive++;
      if (this.consecutive >= this.config.failureThreshold) {
        this.trip = this.consecutive;
        this.open();
      }
    } else if (this.state === 'HalfOpen') {
      this.open();
    }
  }

  private close(): void {
    this.state = 'Closed';
    this.consecutive = 0;
    this.claims = 0;
    this.halfOpenSuccesses = 0;
  }

  forceOpen(): void {
    if (this.state === 'Open') {
      this.openedAt = Math.ceil(this.now);
      return;
    }
    if (this.state === 'Closed') this.trip = this.consecutive;
    this.open();
  }

  forceClosed(): void {
    this.close();
  }

  snapshot() {
    const calls = this.totalCalls;
    return {
      total_calls: calls,
      success_count: this.successes,
      failure_count: this.failures,
      consecutive_failures: BigInt(this.state === 'Closed' ? this.consecutive : this.trip),
      half_open_calls: BigInt(this.state === 'HalfOpen' ? this.halfOpenSuccesses : 0),
      total_duration_nanos: this.duration,
      current_state: this.state,
      failure_rate: calls === 0n ? 0 : Number(this.failures) / Number(calls),
      success_rate: calls === 0n ? 0 : Number(this.successes) / Number(calls),
      average_duration_nanos: calls === 0n ? 0n : this.duration / calls,
      rejected_calls: this.rejected,
      times_opened: this.timesOpened,
    };
  }
}

interface Real {
  readonly breakers: CircuitBreaker[];
  readonly clock: { now: number };
}

type Cmd = fc.Command<Model, Real>;

function check(m: Model, r: Real): void {
  for (const b of r.breakers) {
    expect(b.state).toBe(m.state);
    expect(b.metricsBigInt()).toEqual(m.snapshot());
  }
}

class Acquire implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    expect(r.breakers[this.who % r.breakers.length]!.tryAcquire()).toBe(m.acquire());
    check(m, r);
  }
  toString = () => `acquire@${this.who}`;
}

class Success implements Cmd {
  constructor(readonly who: number, readonly d: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.breakers[this.who % r.breakers.length]!.recordSuccess(this.d);
    m.success(this.d);
    check(m, r);
  }
  toString = () => `success(${this.d})@${this.who}`;
}

class Failure implements Cmd {
  constructor(readonly who: number, readonly d: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.breakers[this.who % r.breakers.length]!.recordFailure(this.d);
    m.failure(this.d);
    check(m, r);
  }
  toString = () => `failure(${this.d})@${this.who}`;
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.now += this.ms;
    r.clock.now = m.now;
    check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

class Force implements Cmd {
  constructor(readonly who: number, readonly open: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const b = r.breakers[this.who % r.breakers.length]!;
    if (this.open) {
      b.forceOpen();
      m.forceOpen();
    } else {
      b.forceClosed();
      m.forceClosed();
    }
    check(m, r);
  }
  toString = () => `${this.open ? 'forceOpen' : 'forceClosed'}@${this.who}`;
}

const duration = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5_000_000 }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64 - 2 ** 11) },
);
const who = fc.nat({ max: 7 });
const commands = fc.commands(
  [
    fc.tuple(who).map(([w]) => new Acquire(w)),
    fc.tuple(who, duration).map(([w, d]) => new Success(w, d)),
    fc.tuple(who, duration).map(([w, d]) => new Failure(w, d)),
    fc
      .oneof(fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 60, noNaN: true, noDefaultInfinity: true }))
      .map((ms) => new Advance(ms)),
    fc.tuple(who, fc.boolean()).map(([w, open]) => new Force(w, open)),
  ],
  { maxCommands: 80 },
);
const config = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 6 }),
  timeoutMs: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1, 300_000)),
  successThreshold: fc.integer({ min: 1, max: 5 }),
});
const origin = fc.tuple(fc.constantFrom(0, 2 ** 30 - 200, 2 ** 31 - 200, 2 ** 32 - 200, 1.7e12), fc.integer({ min: 0, max: 400 })).map(([a, b]) => a + b);

describe.each<[string, BackendKind[]]>([
  ['wasm', ['wasm']],
  ['js', ['js']],
  ['wasm and js on one breaker', ['wasm', 'js']],
])('model-based: %s', (_label, backends) => {
  it(`matches the reference model (${RUNS} runs)`, () => {
    const first = StatsRegistry.create({ backend: backends[0], capacityBytes: 16 << 20, stripes: 2 });
    const registries = [first, ...backends.slice(1).map((backend) => StatsRegistry.attach(first.handle, { backend }))];
    let n = 0;
    fc.assert(
      fc.property(config, origin, commands, (cfg, start, cmds) => {
        const name = `m${n++}`;
        const clock = { now: start };
        const breakers = registries.map((reg) => reg.circuitBreaker(name, cfg, { clock: () => clock.now }));
        fc.modelRun(() => ({ model: new Model(cfg, start), real: { breakers, clock } }), cmds);
      }),
      { numRuns: RUNS },
    );
  });
});
