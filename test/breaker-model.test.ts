/*
 * Model-based test: random sequences of permit / success / failure (with and without the
 * permit acquirePermit() gave) / clock advance / force, run against the real breaker and
 * against a reference model written plainly below, comparing the permit answers, the
 * state and the whole BigInt snapshot after every step. The model covers the probe lease
 * (a half-open period with a probe out expires probeLeaseMs after its first probe, in
 * lease units), late records (a permit acts only in its own period), and the failure-rate
 * window (every Closed record with its time slice, the window's floor after closing). Each run has its own random config and clock origin (origins near 2^30 and
 * 2^32 cross the wrap-around of the 30-bit stamp and of int32). Runs on the wasm backend,
 * on the js backend, and on both at once (two attachments of one memory, each step
 * picking one), so the two implementations must agree with the model and interoperate;
 * and on 'auto', alone and together with both.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatsRegistry, type CircuitBreaker, type CircuitState } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';

const RUNS = 1000;

interface RateConfig {
  failureRateThreshold: number;
  minimumCalls: number;
  windowMs: number;
}

interface Config {
  failureThreshold: number;
  timeoutMs: number;
  successThreshold: number;
  probeLeaseMs: number;
  rate: RateConfig | null;
}

/** Lease units of G = 2^s ms, the smallest with probeLeaseMs / G <= 1024, with integer arithmetic on true numbers. */
function leaseUnit(leaseMs: number): number {
  let g = 1;
  while (leaseMs / g > 1024) g *= 2;
  return g;
}

/** Rate window slices of B = 2^b ms, the largest with windowMs / B >= 16; K = ceil(windowMs / B). */
function slices(windowMs: number): { width: number; count: number } {
  let width = 1;
  while (windowMs / (width * 2) >= 16) width *= 2;
  return { width, count: Math.ceil(windowMs / width) };
}

/** How often the runs reached the paths this file is about (checked after the runs: the generators must reach them). */
const reached = { leaseExpired: 0, rateOpened: 0, lateRecord: 0, windowReset: 0 };

/** The reference: the breaker as plain sequential code, with exact BigInt counters. */
class Model {
  state: CircuitState = 'Closed';
  consecutive = 0;
  trip = 0;
  openedAt = 0;
  claims = 0;
  halfOpenSuccesses = 0;
  /** The half-open period's stamp, in lease units (a true integer, not reduced). */
  stamp = 0;
  /** Closed records in the rate window: their slice numbers. */
  windowed: { slice: number; failure: boolean }[] = [];
  /** Slices before this one do not count (set when the breaker closes); null: none yet. */
  floor: number | null = null;
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

  private get unit(): number {
    return leaseUnit(this.config.probeLeaseMs);
  }

  private slice(): number {
    return Math.floor(Math.ceil(this.now) / slices(this.config.rate!.windowMs).width);
  }

  permitOf(stamp: number): number {
    return ((stamp % 2 ** 18) << 2) | 3;
  }

  /** The window's counts now; the floor applies while Closed. */
  window(): { calls: number; failures: number } {
    if (this.config.rate === null) return { calls: 0, failures: 0 };
    const cur = this.slice();
    const { count } = slices(this.config.rate.windowMs);
    let calls = 0;
    let failures = 0;
    for (const r of this.windowed) {
      if (r.slice > cur || r.slice <= cur - count) continue;
      if (this.state === 'Closed' && this.floor !== null && r.slice < this.floor) continue;
      calls++;
      if (r.failure) failures++;
    }
    return { calls, failures };
  }

  private trips(): boolean {
    const { calls, failures } = this.window();
    return failures > 0 && calls >= this.config.rate!.minimumCalls && failures >= this.config.rate!.failureRateThreshold * calls;
  }

  private open(stampAt = Math.ceil(this.now)): void {
    this.state = 'Open';
    // Stamped rounded up, compared rounded down: a probe is never admitted early.
    this.openedAt = stampAt;
    this.claims = 0;
    this.halfOpenSuccesses = 0;
    this.timesOpened++;
  }

  private record(d: number): void {
    this.totalCalls++;
    this.duration = (this.duration + BigInt(Math.floor(d))) % 2n ** 64n;
  }

  /** The permit: 0 refused, 1 from Closed, a probe's permit from HalfOpen. */
  acquire(): number {
    if (this.state === 'Closed') return 1;
    const tick = Math.floor(this.now);
    if (this.state === 'HalfOpen') {
      const leaseUnits = Math.ceil(this.config.probeLeaseMs / this.unit);
      if (this.claims > this.halfOpenSuccesses && Math.floor(tick / this.unit) - this.stamp >= leaseUnits) {
        // The lease ran out: a failed probe. Stamped tick + 1 (the tick is rounded down).
        reached.leaseExpired++;
        this.open(tick + 1);
        this.rejected++;
        return 0;
      }
      if (this.claims < this.config.successThreshold) {
        this.claims++;
        return this.permitOf(this.stamp);
      }
    }
    if (this.state === 'Open' && tick - this.openedAt >= this.config.timeoutMs) {
      this.state = 'HalfOpen';
      this.claims = 1;
      this.halfOpenSuccesses = 0;
      this.stamp = Math.max(Math.floor(tick / this.unit) + 1, Math.floor(this.openedAt / this.unit) + 2);
      return this.permitOf(this.stamp);
    }
    this.rejected++;
    return 0;
  }

  /** Whether a HalfOpen record with `permit` acts (0: no permit given, always). */
  private inPeriod(permit: number): boolean {
    if (permit === 0) return true;
    const ok = permit !== 1 && permit === this.permitOf(this.stamp) && this.halfOpenSuccesses < this.claims;
    if (!ok) reached.lateRecord++;
    return ok;
  }

  success(d: number, permit = 0): void {
    this.record(d);
    this.successes++;
    if (this.state === 'Closed') {
      if (permit > 1) {
        reached.lateRecord++;
        return;
      }
      if (this.config.rate !== null) {
        this.windowed.push({ slice: this.slice(), failure: false });
        if (this.trips()) {
          reached.rateOpened++;
          this.trip = 0;
          this.open();
          return;
        }
      }
      this.consecutive = 0;
    } else if (this.state === 'HalfOpen' && this.inPeriod(permit)) {
      this.halfOpenSuccesses++;
      if (this.halfOpenSuccesses >= this.config.successThreshold) this.close();
    }
  }

  failure(d: number, permit = 0): void {
    this.record(d);
    this.failures++;
    if (this.state === 'Closed') {
      if (permit > 1) {
        reached.lateRecord++;
        return;
      }
      this.consecutive++;
      let trip = this.consecutive >= this.config.failureThreshold;
      if (this.config.rate !== null) {
        this.windowed.push({ slice: this.slice(), failure: true });
        if (!trip && this.trips()) {
          reached.rateOpened++;
          trip = true;
        }
      }
      if (trip) {
        this.trip = this.consecutive;
        this.open();
      }
    } else if (this.state === 'HalfOpen' && this.inPeriod(permit)) {
      this.open();
    }
  }

  private close(): void {
    this.state = 'Closed';
    this.consecutive = 0;
    this.claims = 0;
    this.halfOpenSuccesses = 0;
    if (this.config.rate !== null) {
      if (this.window().calls > 0) reached.windowReset++;
      this.floor = this.slice() + 1;
    }
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
    const window = this.window();
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
      window_calls: BigInt(window.calls),
      window_failures: BigInt(window.failures),
      // The guard moves no outcome counter (only call() does), and nothing here disables.
      timeout_calls: 0n,
      fallback_calls: 0n,
      aborted_calls: 0n,
      disabled: false,
    };
  }
}

interface Real {
  readonly breakers: CircuitBreaker[];
  readonly clock: { now: number };
  /** Permits granted by acquirePermit() and not yet recorded (the model's are the same numbers). */
  readonly held: number[];
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
    expect(r.breakers[this.who % r.breakers.length]!.tryAcquire()).toBe(m.acquire() !== 0);
    check(m, r);
  }
  toString = () => `acquire@${this.who}`;
}

class AcquirePermit implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const permit = r.breakers[this.who % r.breakers.length]!.acquirePermit();
    expect(permit).toBe(m.acquire());
    if (permit !== 0) r.held.push(permit);
    check(m, r);
  }
  toString = () => `acquirePermit@${this.who}`;
}

/** A record with a held permit (kept for a second record when `again`), or a Closed permit when none is held. */
class RecordWithPermit implements Cmd {
  constructor(readonly who: number, readonly ok: boolean, readonly d: number, readonly pick: number, readonly again: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    let permit = 1;
    if (r.held.length > 0) {
      const i = this.pick % r.held.length;
      permit = r.held[i]!;
      if (!this.again) r.held.splice(i, 1);
    }
    const b = r.breakers[this.who % r.breakers.length]!;
    if (this.ok) {
      b.recordSuccess(this.d, permit);
      m.success(this.d, permit);
    } else {
      b.recordFailure(this.d, permit);
      m.failure(this.d, permit);
    }
    check(m, r);
  }
  toString = () => `${this.ok ? 'success' : 'failure'}(${this.d}, held#${this.pick}${this.again ? ', kept' : ''})@${this.who}`;
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
const advance = fc
  .oneof(fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 60, noNaN: true, noDefaultInfinity: true }))
  .map((ms) => new Advance(ms));
const commands = fc.commands(
  [
    fc.tuple(who).map(([w]) => new Acquire(w)),
    fc.tuple(who).map(([w]) => new Acquire(w)),
    advance,
    fc.tuple(who).map(([w]) => new AcquirePermit(w)),
    fc
      .tuple(who, fc.boolean(), duration, fc.nat({ max: 7 }), fc.boolean())
      .map(([w, ok, d, pick, again]) => new RecordWithPermit(w, ok, d, pick, again)),
    fc.tuple(who, duration).map(([w, d]) => new Success(w, d)),
    fc.tuple(who, duration).map(([w, d]) => new Failure(w, d)),
    advance,
    fc.tuple(who, fc.boolean()).map(([w, open]) => new Force(w, open)),
  ],
  { maxCommands: 80, size: "large" },
);
const config: fc.Arbitrary<Config> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 6 }),
  timeoutMs: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1, 300_000)),
  successThreshold: fc.integer({ min: 1, max: 5 }),
  probeLeaseMs: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 60 }) },
    { weight: 2, arbitrary: fc.integer({ min: 61, max: 300 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1000, max: 5000 }) },
    { weight: 1, arbitrary: fc.constantFrom(1, 1024, 1025, 2049, 3_600_000) },
  ),
  rate: fc.option(
    fc.record({
      failureRateThreshold: fc.oneof(fc.constantFrom(0.25, 0.5, 1), fc.double({ min: 0.01, max: 1, noNaN: true })),
      minimumCalls: fc.integer({ min: 1, max: 8 }),
      windowMs: fc.oneof(fc.integer({ min: 100, max: 2000 }), fc.constantFrom(100, 127, 128, 3_600_000)),
    }),
    { freq: 2 },
  ),
});

function realConfig(c: Config) {
  return { failureThreshold: c.failureThreshold, timeoutMs: c.timeoutMs, successThreshold: c.successThreshold, probeLeaseMs: c.probeLeaseMs, ...(c.rate ?? {}) };
}
const origin = fc.tuple(fc.constantFrom(0, 2 ** 30 - 200, 2 ** 31 - 200, 2 ** 32 - 200, 1.7e12), fc.integer({ min: 0, max: 400 })).map(([a, b]) => a + b);

describe.each<[string, BackendKind[]]>([
  ['wasm', ['wasm']],
  ['js', ['js']],
  ['auto', ['auto']],
  ['wasm and js on one breaker', ['wasm', 'js']],
  ['auto, js and wasm on one breaker', ['auto', 'js', 'wasm']],
])('model-based: %s', (_label, backends) => {
  it(`matches the reference model (${RUNS} runs)`, () => {
    const first = StatsRegistry.create({ backend: backends[0], capacityBytes: 16 << 20, stripes: 2 });
    const registries = [first, ...backends.slice(1).map((backend) => StatsRegistry.attach(first.handle, { backend }))];
    let n = 0;
    for (const path of Object.keys(reached) as (keyof typeof reached)[]) reached[path] = 0;
    fc.assert(
      fc.property(config, origin, commands, (cfg, start, cmds) => {
        const name = `m${n++}`;
        const clock = { now: start };
        const breakers = registries.map((reg) => reg.circuitBreaker(name, realConfig(cfg), { clock: () => clock.now }));
        fc.modelRun(() => ({ model: new Model(cfg, start), real: { breakers, clock, held: [] } }), cmds);
      }),
      { numRuns: RUNS },
    );
    for (const [path, count] of Object.entries(reached)) expect(count, path).toBeGreaterThan(20);
  });
});
