// What a label object may hold and how a wrong one is reported: values without a UTF-8
// form, label names that reach the object only through its prototype, and the message
// that names a misspelt label.
import { Registry as PromRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InvalidLabelsError, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { registryState } from './helpers/metrics.js';

/** Three metrics, one series allowed each, and everything a caller could observe of them. */
function metrics(backend: (typeof BACKENDS)[number]) {
  const r = StatsRegistry.create({ backend });
  const c = r.counter({ name: 'req_total', help: 'R.', labelNames: ['route'], maxSeries: 1 });
  const g = r.gauge({ name: 'inflight', help: 'I.', labelNames: ['route'], maxSeries: 1 });
  const h = r.histogram({ name: 'lat_seconds', help: 'L.', labelNames: ['route', 'code'], maxSeries: 1, buckets: [1] });
  const prom = new PromRegistry();
  registerAtomicStats(r, { register: prom });
  const state = async () => ({
    registry: registryState(r),
    series: [c.seriesCount(), g.seriesCount(), h.seriesCount()],
    got: [await c.get(), await g.get(), await h.get()],
    scrape: await prom.metrics(),
  });
  return { r, c, g, h, prom, state };
}

/** Runs `call`, expects `type`, and that `state()` reads the same after; returns the error. */
async function refusedKeeping(state: () => Promise<unknown>, call: () => unknown, type: abstract new (...a: never[]) => Error): Promise<Error> {
  const before = await state();
  let caught: unknown;
  try {
    call();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect(await state()).toEqual(before);
  return caught as Error;
}

describe.each(BACKENDS)('label values without a UTF-8 form (%s backend)', (backend) => {
  it.each(['\uD800', 'a\uDC00b', '\uDBFF', '\uDC00\uD800', 'x\uD83D'])('%j is refused at every entry point, counting and claiming nothing', async (bad) => {
    const { c, g, h, state } = metrics(backend);
    const calls: [string, () => unknown][] = [
      ['counter inc(labels)', () => c.inc({ route: bad })],
      ['counter inc(labels, n)', () => c.inc({ route: bad }, 2)],
      ['counter labels(object)', () => c.labels({ route: bad })],
      ['counter labels(value)', () => c.labels(bad)],
      ['gauge set', () => g.set({ route: bad }, 1)],
      ['gauge inc', () => g.inc({ route: bad })],
      ['gauge dec', () => g.dec({ route: bad }, 1)],
      ['gauge setToCurrentTime', () => g.setToCurrentTime({ route: bad })],
      ['gauge startTimer start labels', () => g.startTimer({ route: bad })()],
      ['gauge startTimer end labels', () => g.startTimer()({ route: bad })],
      ['histogram observe', () => h.observe({ route: bad, code: 200 }, 0.5)],
      ['histogram labels(values)', () => h.labels(bad, 200)],
      ['histogram labels(object)', () => h.labels({ route: '/a', code: bad })],
      ['histogram startTimer end labels', () => h.startTimer({ code: '200' })({ route: bad })],
      ['histogram quantile', () => h.quantile(0.5, { route: bad, code: 200 })],
    ];
    for (const [what, call] of calls) {
      const e = (await refusedKeeping(state, call, InvalidOptionsError)) as InvalidOptionsError;
      expect(e.option, what).toBe('labels');
      expect(e.message, what).toContain('lone surrogate');
      expect(e.message, what).toContain(JSON.stringify(bad));
    }
  });

  it('after refusals, U+FFFD and a surrogate pair are values of their own, counted and exported', async () => {
    const { r, c, h, prom } = metrics(backend);
    for (const bad of ['\uD800', '\uDC00']) {
      expect(() => c.inc({ route: bad })).toThrow(InvalidOptionsError);
      expect(() => h.observe({ route: bad, code: 1 }, 1)).toThrow(InvalidOptionsError);
    }
    // maxSeries is 1: had a refused value claimed a unit, these would be CardinalityLimitError.
    c.inc({ route: '\uFFFD' }, 3);
    h.observe({ route: '\uD83D\uDE00', code: 1 }, 0.5);
    expect(c.seriesCount()).toBe(1);
    expect((await c.get()).values).toEqual([{ labels: { route: '\uFFFD' }, value: 3 }]);
    const text = await prom.metrics();
    expect(text).toContain('req_total{route="\uFFFD"} 3');
    expect(text).toContain('lat_seconds_count{code="1",route="😀"} 1');
    expect(h.quantile(0.5, { route: '😀', code: 1 })).toBe(0.5); // found, not NaN
  });
});

describe.each(BACKENDS)('labels are the own enumerable properties of the object (%s backend)', (backend) => {
  // Inherited (or non-enumerable) properties are not labels: the first call and every call
  // after the series is cached in this thread give the same answer.
  const inheritedRoute = () => Object.create({ route: '/a' }) as { route: string };
  class WithGetter {
    code = 200;
    get route() {
      return '/a';
    }
  }
  const hidden = () => Object.defineProperty({ code: 200 }, 'route', { value: '/a', enumerable: false });

  it('a label name found only through the prototype is missing, before and after the series is cached', async () => {
    const { r, c, h, state } = metrics(backend);
    for (let round = 0; round < 2; round++) {
      // round 0: nothing cached; round 1: the same label values' series exist and are cached.
      for (const [what, call] of [
        ['Object.create', () => c.inc(inheritedRoute())],
        ['Object.create, labels()', () => c.labels(inheritedRoute())],
        ['class getter', () => h.observe(new WithGetter() as never, 1)],
        ['non-enumerable own', () => h.observe(hidden() as never, 1)],
        ['quantile', () => h.quantile(0.5, new WithGetter() as never)],
      ] as [string, () => unknown][]) {
        const e = await refusedKeeping(state, call, InvalidLabelsError);
        expect(e.message, what).toContain('missing label "route"');
        expect(e.message, what).toContain("own enumerable");
      }
      c.inc({ route: '/a' });
      h.observe({ route: '/a', code: 200 }, 1);
    }
    expect(userCounts(r)).toEqual({ req: 2, lat: 2 });
  });

  it('a stray own key next to an inherited label name is refused on the cached path too', async () => {
    const { c, h, state } = metrics(backend);
    c.inc({ route: '/a' });
    h.observe({ route: '/a', code: 200 }, 1);
    // Every label name resolves to a cached value, and the object has as many keys as names.
    const strayCounter = Object.assign(Object.create({ route: '/a' }) as object, { rout: '/a' });
    const strayGetter = Object.assign(new WithGetter(), { extra: 'x' });
    for (const call of [() => c.inc(strayCounter as never), () => h.observe(strayGetter as never, 1)]) {
      const e = await refusedKeeping(state, call, InvalidLabelsError);
      expect(e.message).toMatch(/unknown label "(rout|extra)"; missing label "route"/);
    }
  });

  it('inherited enumerable keys that are not label names are ignored, as `{ ...labels }` ignores them', async () => {
    const { c, g } = metrics(backend);
    const withInherited = () => Object.assign(Object.create({ tenant: 'x' }) as object, { route: '/a' }) as { route: string };
    c.inc(withInherited());
    c.inc(withInherited()); // cached path
    c.inc({ route: '/a' });
    expect((await c.get()).values).toEqual([{ labels: { route: '/a' }, value: 3 }]);
    g.startTimer(withInherited())();
    expect((await g.get()).values.map((v) => v.labels)).toEqual([{ route: '/a' }]);
    const u = StatsRegistry.create({ backend }).counter({ name: 'plain_total', help: 'P.' });
    u.inc(Object.create({ route: '/a' }) as never);
    expect((await u.get()).values).toEqual([{ labels: {}, value: 1 }]);
  });

  it('null-prototype label objects and a label named hasOwnProperty count on every call', async () => {
    const { r, c } = metrics(backend);
    const bare = () => Object.assign(Object.create(null) as object, { route: '/a' }) as { route: string };
    for (let i = 0; i < 3; i++) c.inc(bare());
    const odd = r.counter({ name: 'odd_total', help: 'O.', labelNames: ['hasOwnProperty', 'route'] });
    for (let i = 0; i < 3; i++) odd.inc({ hasOwnProperty: 'yes', route: '/a' });
    expect((await c.get()).values).toEqual([{ labels: { route: '/a' }, value: 3 }]);
    expect((await odd.get()).values).toEqual([{ labels: { hasOwnProperty: 'yes', route: '/a' }, value: 3 }]);
    expect(() => odd.inc(Object.assign(Object.create({ hasOwnProperty: 'yes' }) as object, { route: '/a' }) as never)).toThrow(InvalidLabelsError);
  });

  it('the key order of the label object does not matter on the cached path', async () => {
    const { h } = metrics(backend);
    for (let i = 0; i < 3; i++) {
      h.observe({ route: '/a', code: 200 }, 1);
      h.observe({ code: 200, route: '/a' }, 1);
    }
    expect(h.seriesCount()).toBe(1);
    expect((await h.get()).values.find((v) => v.metricName === 'lat_seconds_count')!.value).toBe(6);
  });
});

function userCounts(r: StatsRegistry): { req: number; lat: number } {
  const fams = new Map(r.collect().map((f) => [f.name, f]));
  const req = fams.get('req_total')!.samples.reduce((s, x) => s + Number(x.value), 0);
  const lat = fams.get('lat_seconds')!.samples.reduce((s, x) => s + Number((x.value as { count: bigint }).count), 0);
  return { req, lat };
}

describe.each(BACKENDS)('a wrong label name is reported by name (%s backend)', (backend) => {
  it('names the stray label and the missing one', async () => {
    const { c, h, state } = metrics(backend);
    const cases: [() => unknown, string][] = [
      [() => c.inc({ rout: '/a' } as never), 'unknown label "rout"; missing label "route" (label names: route)'],
      [() => c.labels({ rout: '/a' } as never), 'unknown label "rout"; missing label "route" (label names: route)'],
      [() => h.observe({ route: '/a', cod: 200, status: 1 } as never, 1), 'unknown labels "cod", "status"; missing label "code" (label names: code, route)'],
      [() => h.observe({ route: '/a' }, 1), 'missing label "code" (label names: code, route)'],
      [() => h.observe({ route: '/a', code: 1, le: '1' } as never, 1), 'unknown label "le" (label names: code, route)'],
      [() => h.quantile(0.5, { rout: '/a', code: 1 } as never), 'unknown label "rout"; missing label "route" (label names: code, route)'],
    ];
    for (const [call, message] of cases) {
      const e = await refusedKeeping(state, call, InvalidLabelsError);
      expect(e.message).toContain(message);
    }
    // The same after the metric's series exist and are cached.
    c.inc({ route: '/a' });
    const e = await refusedKeeping(state, () => c.inc({ rout: '/a' } as never), InvalidLabelsError);
    expect(e.message).toBe('metric "req_total": unknown label "rout"; missing label "route" (label names: route)');
  });
});
