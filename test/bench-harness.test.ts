// The benchmark harness's own checks: its pure judgement rules (overlap, interference,
// rotation, verdicts) and an end-to-end quick run of a fixture case module and of the
// real physics table, checking structure and final counts, never timings.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The harness is plain .mjs outside the TypeScript build: load it untyped.
const load = (p: string): Promise<any> => import(new URL(p, import.meta.url).href);
const FIXTURE = new URL('./fixtures/bench-case.mjs', import.meta.url).href;
const TEST_OPTS = { warmMs: 20, roundMs: 2 };

interface Rep {
  nsPerOp: number;
  marked: boolean;
  overlap: number;
  wallMs: number;
  ops: number[];
  position: number;
}

describe('round judgement', () => {
  it('measures a round from the first start to the last end over all threads', async () => {
    const { judgeRound } = await load('../bench/harness/proc.mjs');
    const quiet = { run: 100, wait: 0, span: 100 };
    const r = judgeRound(
      [
        { start: 0, end: 1000, ops: 10, ...quiet },
        { start: 100, end: 1100, ops: 30, ...quiet },
      ],
      { steal: 0, others: 0 },
    );
    expect(r.nsPerOp).toBe(1100 / 40);
    expect(r.ops).toEqual([10, 30]);
    expect(r.overlap).toBeCloseTo(900 / 1100, 12);
    expect(r.disturbed).toBe(false);
  });

  it('gives threads that ran one after the other no overlap', async () => {
    const { judgeRound } = await load('../bench/harness/proc.mjs');
    const quiet = { run: 100, wait: 0, span: 100, ops: 10 };
    const r = judgeRound(
      [
        { start: 0, end: 1000, ...quiet },
        { start: 1000, end: 2000, ...quiet },
      ],
      undefined,
    );
    expect(r.overlap).toBe(0);
  });

  it('marks a round where a thread waited for a CPU, lost run time, or the VM was stolen from', async () => {
    const { judgeRound, WAIT_LIMIT, RUN_LIMIT } = await load('../bench/harness/proc.mjs');
    const t = { start: 0, end: 1000, ops: 1 };
    const judge = (run: number, wait: number, steal = 0) => judgeRound([{ ...t, run, wait, span: 1000 }], { steal, others: 0 }).disturbed;
    expect(judge(1000, 0)).toBe(false);
    expect(judge(1000, 1000 * WAIT_LIMIT + 1)).toBe(true);
    expect(judge(1000 * RUN_LIMIT - 1, 0)).toBe(true);
    expect(judge(1000, 0, 1e7)).toBe(true);
  });

  it('does not hold the low run time of a variant that sleeps by design against it, but still its wait and steal', async () => {
    const { judgeRound, WAIT_LIMIT, RUN_LIMIT } = await load('../bench/harness/proc.mjs');
    const t = { start: 0, end: 1000, ops: 1 };
    const judge = (run: number, wait: number, steal = 0) => judgeRound([{ ...t, run, wait, span: 1000 }], { steal, others: 0 }, true).disturbed;
    expect(judge(1000 * RUN_LIMIT - 1, 0)).toBe(false);
    expect(judge(100, 0)).toBe(false);
    expect(judge(100, 1000 * WAIT_LIMIT + 1)).toBe(true);
    expect(judge(100, 0, 1e7)).toBe(true);
  });

  it('rotates the variant order so that every variant takes every position once', async () => {
    const { rotation } = await load('../bench/harness/group.mjs');
    const n = 4;
    const seen = Array.from({ length: n }, () => new Set<number>());
    for (let rep = 0; rep < n; rep++) {
      const order: number[] = rotation(n, rep);
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      order.forEach((v, pos) => seen[v]!.add(pos));
    }
    for (const s of seen) expect(s.size).toBe(n);
  });
});

describe('verdicts', () => {
  const o = (pass: boolean, value: number, marked = false) => ({ name: 't', target: '≤ 1×', pass, value, measured: '', marked });

  it('is met or missed only when every counted repetition agrees', async () => {
    const { verdictOf } = await load('../bench/harness/verdicts.mjs');
    expect(verdictOf([o(true, 0.9), o(true, 0.8), o(true, 0.95)], 3).verdict).toBe('met');
    expect(verdictOf([o(false, 1.2), o(false, 1.1), o(false, 1.3)], 3).verdict).toBe('missed');
    const crossing = verdictOf([o(true, 0.9), o(false, 1.1), o(true, 0.95)], 3);
    expect(crossing.verdict).toBe('inconclusive');
    expect(crossing.range).toEqual({ min: 0.9, median: 0.95, max: 1.1, n: 3 });
  });

  it('does not let marked repetitions decide, and is inconclusive without enough clean ones', async () => {
    const { verdictOf } = await load('../bench/harness/verdicts.mjs');
    const v = verdictOf([o(true, 0.9), o(true, 0.8), o(true, 0.7), o(false, 3, true)], 3);
    expect(v.verdict).toBe('met');
    expect(v.marked).toBe(1);
    expect(v.range.max).toBe(0.9);
    const few = verdictOf([o(true, 0.9), o(true, 0.8), o(false, 3, true), o(false, 3, true)], 3);
    expect(few.verdict).toBe('inconclusive');
    expect(few.why).toMatch(/interference/);
  });

  it("marks a target as touched by interference only when it read a marked round", async () => {
    const { repetitionRows } = await load('../bench/harness/verdicts.mjs');
    const groups = [
      {
        table: 'x',
        threads: 1,
        variants: [
          { id: 'a', variant: 'a', baseline: true, reps: [{ nsPerOp: 1, marked: false }] },
          { id: 'b', variant: 'b', baseline: false, reps: [{ nsPerOp: 2, marked: true }] },
        ],
      },
    ];
    const touched = { marked: false };
    const rows = repetitionRows(groups, 0, touched);
    expect(rows.find((r: { id: string }) => r.id === 'a').median).toBe(1);
    expect(touched.marked).toBe(false);
    expect(rows.find((r: { id: string }) => r.id === 'b').median).toBe(2);
    expect(touched.marked).toBe(true);
  });
});

describe('which targets a marked round touches', () => {
  // One module computing a 1-thread and a 2-thread target in one call, as the case modules
  // do: only the 2-thread group has a marked round, so only the 2-thread target may be
  // held back, although computing the targets reads every row.
  const v = (id: string, threads: number, nsPerOp: number, marked: boolean) => ({ id, variant: id, threads, reps: [{ nsPerOp, marked }] });
  const groups = [
    { table: 'x', threads: 1, variants: [v('a', 1, 1, false), v('b', 1, 2, false)] },
    { table: 'x', threads: 2, variants: [v('a', 2, 3, true), v('b', 2, 4, false)] },
  ];
  const mod = {
    targets(rows: { id: string; threads: number; median: number }[]) {
      const ns = (id: string, t: number) => rows.find((r) => r.id === id && r.threads === t)?.median;
      const out = [];
      for (const t of [1, 2]) {
        const a = ns('a', t)!;
        const b = ns('b', t)!;
        out.push({ name: `t${t}`, value: a / b, measured: (a / b).toFixed(2), target: '≤ 1×', pass: a / b <= 1 });
      }
      return out;
    },
  };

  it('holds back only the target whose figures came from a marked round', async () => {
    const { collectTargets } = await load('../bench/harness/verdicts.mjs');
    const byName = collectTargets(groups, [mod], 1);
    expect(byName.get('t1')).toEqual([expect.objectContaining({ value: 0.5, pass: true, marked: false })]);
    expect(byName.get('t2')).toEqual([expect.objectContaining({ value: 0.75, pass: true, marked: true })]);
  });

  it('counts a target left out for a missing figure as touched', async () => {
    const { collectTargets } = await load('../bench/harness/verdicts.mjs');
    const skipping = { targets: (rows: { id: string; median: number }[]) => (rows.every((r) => r.median) ? [{ name: 'all', value: 1, measured: '1', target: '', pass: true }] : []) };
    expect(collectTargets(groups, [skipping], 1).get('all')).toEqual([expect.objectContaining({ marked: true })]);
  });
});

describe('quick run end to end', () => {
  it('runs a fixture table interleaved at 1 and 2 threads, with counts, ranges and verdicts', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    const { renderText, renderMarkdown } = await load('../bench/report.mjs');
    const { renderSvg } = await load('../bench/chart.mjs');
    const run = await runBench({ files: [FIXTURE], only: 'fixture: one', quick: true, overrides: TEST_OPTS });
    expect(run.version).toBe(2);
    expect(run.groups.map((g: { threads: number }) => g.threads)).toEqual([1, 2]);
    for (const g of run.groups) {
      expect(g.variants.map((v: { id: string }) => v.id)).toEqual(['fx/atomic', 'fx/atomic-twice']);
      // Every kept round is either clean or counted as marked; redos are counted.
      expect(g.counts.rounds).toBeGreaterThanOrEqual(run.options.reps * g.variants.length);
      const marked = g.variants.reduce((n: number, v: { reps: Rep[] }) => n + v.reps.filter((r) => r.marked).length, 0);
      expect(g.counts.marked).toBe(marked);
      expect(g.counts.rounds).toBe(run.options.reps * g.variants.length + g.counts.notOverlapped + g.counts.disturbed - g.counts.marked);
      for (const v of g.variants) {
        expect(v.reps).toHaveLength(run.options.reps);
        // verify() passed against the threads' own counts: every op of every round ran.
        const measured = (v.reps as Rep[]).reduce((n, r) => n + r.ops.reduce((a, b) => a + b, 0), 0);
        expect(v.totalOps).toBeGreaterThanOrEqual(measured);
        expect(v.totalOps % 1000).toBe(0);
        expect(v.stride).toBeGreaterThanOrEqual(1);
        for (const r of v.reps as Rep[]) {
          // Timed rounds: every thread ran whole chunks, and the round lasted its time.
          expect(r.ops).toHaveLength(g.threads);
          for (const n of r.ops) {
            expect(n).toBeGreaterThan(0);
            expect(n % 1000).toBe(0);
          }
          expect(r.wallMs).toBeGreaterThanOrEqual(run.options.roundMs);
          expect(r.nsPerOp).toBeCloseTo((r.wallMs * 1e6) / r.ops.reduce((a, b) => a + b, 0), 6);
          if (!r.marked) expect(r.overlap).toBeGreaterThanOrEqual(run.options.minOverlap);
        }
        // Rotation: over 5 repetitions of 2 variants, each variant ran first and second.
        expect(new Set(v.reps.map((r: Rep) => r.position))).toEqual(new Set([0, 1]));
        expect(v.ns.n).toBe(run.options.reps);
        expect(v.ns.min).toBeLessThanOrEqual(v.ns.median);
        expect(v.ns.median).toBeLessThanOrEqual(v.ns.max);
      }
      expect(g.variants[0].vsBaseline).toEqual({ min: 1, median: 1, max: 1, n: run.options.reps });
    }
    expect(run.physics).toHaveLength(1);
    expect(run.physics[0].ratio.n).toBe(run.options.reps);

    const byName = new Map(run.verdicts.map((v: { name: string }) => [v.name, v]));
    const below1000: any = byName.get('fixture: ratio below 1000');
    const below0: any = byName.get('fixture: ratio below 0');
    expect(below1000.repetitions).toBe(run.options.reps);
    // With fewer than minClean clean repetitions the verdict must say so.
    if (below1000.marked > run.options.reps - run.options.minClean) {
      expect(below1000.verdict).toBe('inconclusive');
      expect(below0.verdict).toBe('inconclusive');
    } else {
      expect(below1000.verdict).toBe('met');
      expect(below0.verdict).toBe('missed');
    }

    const text = renderText(run);
    expect(text).toContain('== fixture: one shared cell');
    expect(text).toContain('Interference:');
    expect(renderMarkdown(run)).toContain('| fixture: ratio below 1000 |');
    expect(renderSvg(run)).toMatch(/^<svg/);
  });

  it('refuses a variant whose final count does not match the operations it ran', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    await expect(runBench({ files: [FIXTURE], only: 'fx/lossy', quick: true, overrides: TEST_OPTS })).rejects.toThrow(/fx\/lossy: counted \d+, expected \d+/);
  });

  it('runs the real physics table, checking every variant\'s final state', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    const cases = new URL('../bench/cases/physics.mjs', import.meta.url).href;
    const run = await runBench({ files: [cases], quick: true, overrides: TEST_OPTS });
    expect(run.groups).toHaveLength(1);
    expect(run.groups[0].variants).toHaveLength(12);
    for (const v of run.groups[0].variants) expect(v.totalOps).toBeGreaterThan(0);
    const goals = run.physics.filter((p: { goal?: number }) => p.goal);
    expect(goals.map((p: { id: string }) => p.id)).toEqual(['phys/inc-wasm', 'phys/striped-js', 'phys/publish-wasm', 'phys/publish-js', 'phys/publish-auto']);
    for (const p of run.physics) expect(p.ratio.n).toBe(run.options.reps);
    expect(run.verdicts.map((v: { verdict: string }) => v.verdict).every((v: string) => ['met', 'missed', 'inconclusive'].includes(v))).toBe(true);
    expect(run.verdicts).toHaveLength(goals.length);
  });
});

describe('scaling tables', () => {
  const file = (name: string) => new URL(`../bench/cases/${name}.mjs`, import.meta.url).href;

  it('plans a mixThreads table as one group of every thread count, and checks the new case fields', async () => {
    const { planGroups, checkModule } = await load('../bench/harness/bench.mjs');
    const mod = {
      cases: [
        { id: 'a1', table: 'mixed', variant: '1', threads: [1], mixThreads: true },
        { id: 'a2', table: 'mixed', variant: '2', threads: [2], mixThreads: true },
        { id: 'b', table: 'plain', variant: 'b', threads: [1, 2] },
      ],
    };
    const groups = planGroups([{ file: 'm', mod }], '');
    expect(groups.map((g: { table: string; threads: number }) => [g.table, g.threads])).toEqual([['mixed', 2], ['plain', 1], ['plain', 2]]);
    expect(groups[0].entries.map((e: { threads: number }) => e.threads)).toEqual([1, 2]);
    const ok = { cases: [{ id: 'a', table: 't', variant: 'v' }], setup() {}, prepare() {}, verify() {} };
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], threads: [1, 2], mixThreads: true }] })).toThrow(/exactly one thread count/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], units: 10 }] })).toThrow(/units/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], mixThreads: true }, { ...ok.cases[0], id: 'b', threads: [2] }] })).toThrow(/all of its cases or on none/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], units: 0, unit: 'entry' }] })).toThrow(/units/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], units: 10, unit: 'entry', mixThreads: true }] })).not.toThrow();
  });

  it('runs a thread-scaling table: every thread count interleaved in one group, against 1 thread', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    const { renderText } = await load('../bench/report.mjs');
    const { THREADS } = await load('../bench/cases/scaling-threads.mjs');
    const cpus = Math.min((await import('node:os')).availableParallelism(), 64);
    expect(THREADS.slice(0, 2)).toEqual([1, 2]);
    expect(THREADS).toContain(cpus);
    if (cpus <= 2) expect(THREADS).toContain(4);
    const run = await runBench({ files: [file('scaling-threads')], only: 'threads/publish', quick: true, overrides: TEST_OPTS });
    expect(run.groups).toHaveLength(1);
    const g = run.groups[0];
    expect(g.mixedThreads).toBe(true);
    expect(g.threads).toBe(Math.max(...THREADS));
    expect(g.variants.map((v: { threads: number }) => v.threads)).toEqual(THREADS);
    expect(g.counts.rounds).toBe(run.options.reps * g.variants.length + g.counts.notOverlapped + g.counts.disturbed - g.counts.marked);
    for (const v of g.variants) {
      // verify() passed: the shared stats and the handlers counted every publish.
      expect(v.totalOps).toBeGreaterThan(0);
      expect(v.reps).toHaveLength(run.options.reps);
      for (const r of v.reps as Rep[]) {
        expect(r.ops).toHaveLength(v.threads);
        if (!r.marked) expect(r.overlap).toBeGreaterThanOrEqual(run.options.minOverlap);
      }
      expect(new Set(v.reps.map((r: Rep) => r.position))).toEqual(new Set(THREADS.map((_: number, i: number) => i)));
    }
    expect(g.variants[0].baseline).toBe(true);
    expect(g.variants[0].vsBaseline).toEqual({ min: 1, median: 1, max: 1, n: run.options.reps });
    const text = renderText(run);
    expect(text).toContain('ns/op (all threads)');
    if (cpus <= 2) expect(text).toContain('4 threads (oversubscribed');
  });

  it('runs entry-scaling tables: fresh lookups really miss the per-thread cache; whole-registry reads get ns per entry', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    const { renderText } = await load('../bench/report.mjs');
    const { SIZES } = await load('../bench/cases/scaling-entries.mjs');
    expect(SIZES).toEqual([10, 100, 1000, 10000]);
    // verify() throws unless every call returned a new CounterSet (no cache hit) and the
    // registry still holds exactly its entries.
    const fresh = await runBench({ files: [file('scaling-entries')], only: 'entries/lookup-fresh', quick: true, overrides: TEST_OPTS });
    expect(fresh.groups).toHaveLength(1);
    expect(fresh.groups[0].variants.map((v: { id: string }) => v.id)).toEqual(SIZES.map((e: number) => `entries/lookup-fresh/${e}`));
    for (const v of fresh.groups[0].variants) expect(v.totalOps).toBeGreaterThan(0);
    expect(fresh.groups[0].variants[0].vsBaseline.median).toBe(1);

    const usage = await runBench({ files: [file('scaling-entries')], only: 'entries/usage', quick: true, overrides: TEST_OPTS });
    const vs = usage.groups[0].variants;
    expect(vs.map((v: { units: number }) => v.units)).toEqual(SIZES);
    expect(vs.every((v: { unit: string }) => v.unit === 'entry')).toBe(true);
    const text = renderText(usage);
    expect(text).toContain('ns/entry');
    expect(text).toContain('10,000 entries');
  });
});

describe('contention tables', () => {
  const file = new URL('../bench/cases/contention.mjs', import.meta.url).href;
  const VARIANTS = ['default', 'unstriped', 'striped'];
  // Each table: its key, threads, variants and baseline (a gauge has no striped: true; its
  // 2-worker baseline is a series per worker).
  const TABLES: [string, number, string[], string][] = [
    ['inc2', 2, VARIANTS, 'striped'],
    ['inc1', 1, VARIANTS, 'unstriped'],
    ['obs2', 2, VARIANTS, 'striped'],
    ['ginc2', 2, ['default', 'unstriped', 'own'], 'own'],
    ['ginc1', 1, ['default', 'unstriped'], 'unstriped'],
  ];

  it('runs one labelled series under 2 workers and under 1, each variant against the one its target names, with exact totals', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    const { renderText } = await load('../bench/report.mjs');
    const run = await runBench({ files: [file], only: 'contention', quick: true, overrides: TEST_OPTS });
    const counted = run.groups.slice(0, TABLES.length);
    expect(run.groups.map((g: { threads: number }) => g.threads)).toEqual([...TABLES.map((t) => t[1]), 2]);
    // The summary's table, last: thread counts and series as variants, in one group.
    const sum = run.groups[TABLES.length];
    expect(sum.table).toMatch(/^contention: summary child observe\(v\)/);
    expect(sum.variants.map((v: { id: string }) => v.id)).toEqual(['one', 'apart', 'shared', 'unstriped'].map((v) => `contention/sum/${v}`));
    expect(sum.variants.find((v: { baseline: boolean }) => v.baseline).id).toBe('contention/sum/apart');
    for (const v of sum.variants) expect(v.totalOps).toBeGreaterThan(0);
    counted.forEach((g: any, i: number) => {
      const [key, , variants, baseline] = TABLES[i]!;
      expect(g.table).toMatch(/^contention: .*\(target: default ≤ 1\.[15]× (striped: (true|false)|a series per worker)\)$/);
      expect(g.variants.map((v: { id: string }) => v.id)).toEqual(variants.map((v) => `contention/${key}/${v}`));
      expect(g.variants.find((v: { baseline: boolean }) => v.baseline).id).toBe(`contention/${key}/${baseline}`);
      for (const v of g.variants) {
        // verify() passed: the one series holds exactly the operations every thread ran.
        expect(v.totalOps).toBeGreaterThan(0);
        expect(v.totalOps % 1000).toBe(0);
        for (const r of v.reps as Rep[]) {
          expect(r.ops).toHaveLength(g.threads);
          if (!r.marked) expect(r.overlap).toBeGreaterThanOrEqual(run.options.minOverlap);
        }
      }
    });
    const byName = new Map(run.verdicts.map((v: { name: string }) => [v.name, v]));
    const targets: [string, string][] = [
      ['bound child inc(), 2 workers on one series: default vs striped: true', '≤ 1.50×'],
      ['bound child inc(), 1 worker (uncontended): default vs striped: false', '≤ 1.10×'],
      ['histogram child observe(v), 2 workers on one series: default vs striped: true', '≤ 1.50×'],
      ['gauge child inc(), 2 workers on one series: default vs a series per worker', '≤ 1.50×'],
      ['gauge child inc(), 1 worker (uncontended): default vs striped: false', '≤ 1.10×'],
    ];
    for (const [name, target] of targets) {
      const v: any = byName.get(name);
      expect(v).toMatchObject({ target, repetitions: run.options.reps });
      expect(['met', 'missed', 'inconclusive']).toContain(v.verdict);
    }
    // The information rows: a striped series holds its stripes, an unstriped one does not;
    // a gauge's (default / striped: false) at least its one node.
    const bytes = run.verdicts.filter((v: { name: string }) => v.name.startsWith('shared bytes of the one series'));
    expect(bytes).toHaveLength(5);
    for (const b of bytes) {
      const [first, unstriped, striped] = (b.measured as string).split(' / ').map((x) => Number.parseInt(x, 10));
      if (b.name.includes('gauge')) {
        expect(b.name).toMatch(/\(default \/ striped: false\)$/);
        expect(first).toBeGreaterThanOrEqual(unstriped!);
        expect(unstriped).toBe(128);
      } else expect(striped).toBeGreaterThan(unstriped!);
    }
    expect(renderText(run)).toContain('== contention: bound child inc(), 1 worker, uncontended (target: default ≤ 1.1× striped: false)');
    expect(byName.get('summary child observe(v), 2 workers on one series vs on two series (the same value)')).toMatchObject({ target: 'info' });
  });

  it('refuses a final state that does not match the operations run: a lost or extra count, a wrong bucket or sum', async () => {
    const mod = await load('../bench/cases/contention.mjs');
    for (const v of VARIANTS) {
      const inc = `contention/inc2/${v}`;
      const data = await mod.setup(inc, 2);
      (await mod.prepare(inc, data, 0)).run(1000);
      await expect(mod.verify(inc, data, 1000, [])).resolves.toBeUndefined();
      await expect(mod.verify(inc, data, 2000, [])).rejects.toThrow(`${inc}: the count is 1000, expected 2000`);

      const obs = `contention/obs2/${v}`;
      const hdata = await mod.setup(obs, 2);
      const h = await mod.prepare(obs, hdata, 0);
      h.run(1000);
      await expect(mod.verify(obs, hdata, 1000, [])).resolves.toBeUndefined();
      await expect(mod.verify(obs, hdata, 2000, [])).rejects.toThrow(`${obs}: the count is 1000, expected 2000`);
      // 8 more observations with the right count and sum, two of them in the wrong bucket.
      const child = mod.bind(obs, hdata);
      for (const x of [0.0078125, 0.009765625, 0.03125, 0.0625, 0.375, 0.75, 1.5, 16]) child.observe(x);
      await expect(mod.verify(obs, hdata, 1008, [])).rejects.toThrow(`${obs}: bucket le=0.005 is 125, expected 126`);
      // 8 more of the smallest value: the count is right, the sum is not.
      for (let i = 0; i < 8; i++) child.observe(mod.VALUES[0]);
      await expect(mod.verify(obs, hdata, 1016, [])).rejects.toThrow(new RegExp(`^${obs}: the sum is`));
    }
    for (const v of ['default', 'unstriped', 'own']) {
      const inc = `contention/ginc2/${v}`;
      const data = await mod.setup(inc, 2);
      (await mod.prepare(inc, data, 0)).run(1000);
      (await mod.prepare(inc, data, 1)).run(500);
      await expect(mod.verify(inc, data, 1500, [])).resolves.toBeUndefined();
      await expect(mod.verify(inc, data, 2000, [])).rejects.toThrow(`${inc}: the count is 1500, expected 2000`);
    }
    // The summary's variants: two threads' series, one run each; a count short of the operations is refused.
    for (const v of ['apart', 'shared', 'unstriped']) {
      const id = `contention/sum/${v}`;
      const data = await mod.setup(id, 2);
      for (const index of [0, 1]) (await mod.prepare(id, data, index)).run(1000);
      await expect(mod.verify(id, data, 2000, [])).resolves.toBeUndefined();
      await expect(mod.verify(id, data, 3000, [])).rejects.toThrow(`${id}: the count is 2000, expected 3000`);
    }
  });
});

describe('failures', () => {
  it('stops with the cause when a case thread throws mid-round', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    await expect(runBench({ files: [FIXTURE], only: 'fx/throws', quick: true, overrides: TEST_OPTS })).rejects.toThrow(/fx\/throws: failed on purpose/);
  });

  it('stops when a case thread exits mid-round instead of waiting for it', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    await expect(runBench({ files: [FIXTURE], only: 'fx/exits', quick: true, overrides: TEST_OPTS })).rejects.toThrow(/fx\/exits: thread 1 exited \(code 3\) before reporting/);
  });

  it('stops with the cause when a case thread cannot prepare its variant', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    await expect(runBench({ files: [FIXTURE], only: 'fx/bad-prepare', quick: true, overrides: TEST_OPTS })).rejects.toThrow(/cannot prepare on purpose/);
  });

  it('rejects options the method does not allow, and a filter that matches nothing', async () => {
    const { runBench } = await load('../bench/harness/bench.mjs');
    await expect(runBench({ files: [FIXTURE], quick: true, overrides: { reps: 4 } })).rejects.toThrow(/reps must be an integer ≥ 5/);
    await expect(runBench({ files: [FIXTURE], quick: true, overrides: { roundMs: Number.NaN } })).rejects.toThrow(/roundMs/);
    await expect(runBench({ files: [FIXTURE], quick: true, overrides: { minOverlap: 0 } })).rejects.toThrow(/minOverlap/);
    await expect(runBench({ files: [FIXTURE], only: 'no such case' })).rejects.toThrow(/no case or table matches/);
  });

  it('rejects a case module that does not follow the interface', async () => {
    const { checkModule } = await load('../bench/harness/bench.mjs');
    const ok = { cases: [{ id: 'a', table: 't', variant: 'v' }], setup() {}, prepare() {}, verify() {} };
    expect(() => checkModule('m', ok)).not.toThrow();
    expect(() => checkModule('m', { ...ok, verify: undefined })).toThrow(/verify\(\)/);
    expect(() => checkModule('m', { ...ok, cases: [...ok.cases, ...ok.cases] })).toThrow(/appears twice/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], threads: [0] }] })).toThrow(/threads/);
    expect(() => checkModule('m', { ...ok, physics: [{ name: 'p', id: 'a', floor: 'b' }] })).toThrow(/physics entry/);
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], blocks: true }] })).not.toThrow();
    expect(() => checkModule('m', { ...ok, cases: [{ ...ok.cases[0], blocks: 1 }] })).toThrow(/blocks/);
  });
});

describe('where a run is written', () => {
  const root = new URL('../', import.meta.url);

  it('a full run becomes latest.* and a dated copy in local/; every other run goes to local/ only', async () => {
    const { outputs, LOCAL } = await load('../bench/harness/outputs.mjs');
    const date = '2026-11-27T12:34:06.290Z';
    expect(outputs({ date })).toEqual({ names: ['latest', `${LOCAL}run-2026-11-27T12-34-06Z`], publish: true });
    expect(outputs({ quick: true, date })).toEqual({ names: [`${LOCAL}quick`], publish: false });
    expect(outputs({ quick: true, out: 'smoke', date })).toEqual({ names: [`${LOCAL}smoke`], publish: false });
    expect(outputs({ only: 'scrape', out: 'scrape-1', date })).toEqual({ names: [`${LOCAL}scrape-1`], publish: false });
    expect(outputs({ out: 'latest', date })).toEqual({ names: [`${LOCAL}latest`], publish: false });
    expect(outputs({ only: 'scrape', date })).toEqual({ names: [], publish: false });
    for (const out of ['../latest', 'a/b', '', '.hidden']) expect(() => outputs({ out, date })).toThrow(/--out takes a file name/);
  });

  it('git ignores local/ and holds only the latest run; the docs cite only what it holds', async () => {
    const { KEPT, LOCAL } = await load('../bench/harness/outputs.mjs');
    const ignored = readFileSync(new URL('.gitignore', root), 'utf8').split('\n');
    expect(ignored).toContain(`bench/results/${LOCAL}`);
    const tracked = execFileSync('git', ['ls-files', 'bench/results'], { cwd: fileURLToPath(root), encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' }).split('\n').filter(Boolean);
    expect(tracked.sort()).toEqual(KEPT.map((f: string) => `bench/results/${f}`).sort());
    const docs = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const cited = docs.flatMap((f) => [...readFileSync(new URL(f, root), 'utf8').matchAll(/bench\/results\/([^\s`),]*)/g)].map((m) => m[1]!));
    expect(cited.length).toBeGreaterThan(0);
    for (const c of cited) expect(c.startsWith('latest.') || c.startsWith(LOCAL)).toBe(true);
  });
});
