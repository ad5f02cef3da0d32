/*
 * The source's import graph stays layered: no module imports itself back through any
 * chain (type-only imports included: a type cycle still ties the two modules' changes
 * together), nor does any folder (taken as one node, a file of src/ itself as its own),
 * the registry core and everything below it import no kind, the collector imports no
 * kind, and only the entry point imports the façade. The graph is read with TypeScript's
 * own import scanner, so multi-line, type-only and re-export forms are all seen.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { KINDS } from '../src/kind-table.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

type Graph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module → the src modules it imports (relative specifiers only), as paths relative to src/. */
function importGraph(): Graph {
  const files = sourceFiles(SRC);
  const known = new Set(files.map((f) => relative(SRC, f)));
  const graph: Graph = new Map();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = new Set<string>();
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = relative(SRC, resolve(dirname(file), fileName.replace(/\.js$/, '.ts')));
      if (known.has(target)) deps.add(target);
    }
    graph.set(relative(SRC, file), [...deps].sort());
  }
  return graph;
}

/** Every cycle's modules (strongly connected components of more than one module, or a self-import). */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.includes(v)) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Everything `from` imports, directly or not. */
function closure(graph: Graph, from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...(graph.get(from) ?? [])];
  while (todo.length > 0) {
    const m = todo.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    todo.push(...(graph.get(m) ?? []));
  }
  return seen;
}

const importersOf = (graph: Graph, target: string): string[] =>
  [...graph].filter(([, deps]) => deps.includes(target)).map(([m]) => m).sort();

/** A module's node in the folder graph: its top folder under src/ (`breaker/`), or the file itself at src/'s top. */
const folderOf = (m: string): string => (m.includes('/') ? `${m.slice(0, m.indexOf('/'))}/` : m);

/** The graph of folders: an arrow where some module of one imports a module of another. */
function folderGraph(graph: Graph): Graph {
  const out: Graph = new Map();
  for (const [m, deps] of graph) {
    const from = folderOf(m);
    const to = new Set(out.get(from) ?? []);
    for (const d of deps) if (folderOf(d) !== from) to.add(folderOf(d));
    out.set(from, [...to].sort());
  }
  return out;
}

/** Every module of the folders that hold the kinds the table lists (kind-table.ts imports each kind's module). */
function kindModules(graph: Graph): Set<string> {
  const folders = new Set((graph.get('kind-table.ts') ?? []).filter((m) => m.includes('/')).map(folderOf));
  return new Set([...graph.keys()].filter((m) => folders.has(folderOf(m))));
}

describe('source structure', () => {
  const graph = importGraph();

  it('reads the real graph (the scanner sees multi-line, type-only and re-export imports)', () => {
    expect(graph.size).toBeGreaterThan(50);
    // index.ts only re-exports; registry.ts has multi-line and `import type` imports.
    expect(graph.get('index.ts')).toContain('registry.ts');
    expect(graph.get('registry.ts')).toContain('registry-core.ts');
    expect(graph.get('stats/open.ts')).toContain('registry-core.ts');
  });

  it('the cycle finder finds a cycle when there is one (so the next test can fail)', () => {
    const g: Graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
    expect(cycles(new Map([...graph, ['registry-core.ts', [...graph.get('registry-core.ts')!, 'registry.ts']]]))).not.toEqual([]);
  });

  it('has no import cycle among the src/ modules', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('only the entry point imports the façade (registry.ts)', () => {
    expect(importersOf(graph, 'registry.ts')).toEqual(['index.ts']);
  });

  it('the registry core imports no kind and no component: nothing that imports it is below it', () => {
    const below = closure(graph, 'registry-core.ts');
    const above = new Set(importersOf(graph, 'registry-core.ts'));
    expect([...below].filter((m) => above.has(m))).toEqual([]);
    const components = ['breaker/kind.ts', 'breaker/circuit-breaker.ts', 'stats/index.ts', 'stats/open.ts', 'bus/event-bus.ts', 'subscriber/index.ts', 'export/collect.ts', 'kinds/series.ts', 'kinds/metric-base.ts', 'sets/counter-set.ts', 'kind-table.ts'];
    expect(components.filter((m) => below.has(m))).toEqual([]);
  });

  it('no folder imports a folder that imports it (no circle of folders, files of src/ itself each a node of their own)', () => {
    expect(cycles(folderGraph(graph))).toEqual([]);
    // The check bites: an arrow from the ops back up to a kind's folder would close a circle.
    expect(cycles(folderGraph(new Map([...graph, ['ops/cells.ts', [...graph.get('ops/cells.ts')!, 'breaker/kind.ts']]])))).not.toEqual([]);
    expect(folderOf('breaker/trip/x.ts')).toBe('breaker/');
  });

  it('nothing below the core imports a kind: the core knows kinds only through the descriptor type', () => {
    const kinds = kindModules(graph);
    // The table's rows come from the kinds' folders: the metric kinds, the sets, the stats structs, the breaker.
    expect(['kinds/counter.ts', 'sets/kind.ts', 'stats/step-execution-stats.ts', 'breaker/kind.ts', 'breaker/circuit-breaker.ts'].filter((m) => !kinds.has(m))).toEqual([]);
    const below = closure(graph, 'registry-core.ts');
    // What lies below it: the descriptor type, the signature check, the backend binding and
    // every op set, the breaker's layout and rate window among them.
    expect(['kind.ts', 'signature.ts', 'ops/bind.ts', 'ops/breaker-js.ts', 'ops/breaker-layout.ts', 'ops/breaker-window.ts', 'ops/stats-js.ts', 'ops/metrics-js.ts'].filter((m) => !below.has(m))).toEqual([]);
    expect([...below].filter((m) => kinds.has(m) || m === 'kind-table.ts')).toEqual([]);
    for (const m of [...graph.keys()].filter((k) => k.startsWith('ops/'))) {
      expect([...closure(graph, m)].filter((d) => kinds.has(d)), m).toEqual([]);
    }
    // The check bites: the ops importing a kind's module is seen.
    const bad = new Map([...graph, ['ops/breaker-layout.ts', [...graph.get('ops/breaker-layout.ts')!, 'breaker/config.ts']]]);
    expect([...closure(bad, 'registry-core.ts')].filter((m) => kinds.has(m))).toContain('breaker/config.ts');
  });

  it('the collector imports no kind: it runs the collectors of the table the registry object holds', () => {
    const kinds = kindModules(graph);
    const below = closure(graph, 'export/collect.ts');
    expect([...below].filter((m) => kinds.has(m) || m === 'kind-table.ts')).toEqual([]);
  });

  it('only the façade imports the table of kinds', () => {
    expect(importersOf(graph, 'kind-table.ts')).toEqual(['registry.ts']);
  });

  it('validate.ts is at the bottom: it imports neither the registry nor any kind', () => {
    const below = closure(graph, 'validate.ts');
    expect([...below].sort()).toEqual(['backend.ts', 'directory.ts', 'errors.ts', 'layout.ts']);
  });
});

describe('the text that ships with the code', () => {
  // Comments and JSDoc (the JSDoc ships in the .d.ts) speak to users: they name pages
  // that exist, and no document that is not shipped.
  const files = sourceFiles(SRC).map((f) => ({ file: relative(SRC, f), text: readFileSync(f, 'utf8') }));

  it('every docs/ page a source file names exists', () => {
    const docs = new Set(readdirSync(resolve(SRC, '../docs')));
    const missing = files.flatMap(({ file, text }) => [...text.matchAll(/docs\/([A-Za-z0-9_-]+\.md)/g)].filter((m) => !docs.has(m[1]!)).map((m) => `${file}: ${m[0]}`));
    expect(missing).toEqual([]);
    expect(files.some(({ text }) => text.includes('docs/circuit-breaker.md'))).toBe(true);
  });

  it('no source file cites a spec section, the system it was modelled on, or README sections', () => {
    const banned = /SPEC\s*§|\bthe original\b|original system|README, "/;
    expect(files.filter(({ text }) => banned.test(text)).map(({ file }) => file)).toEqual([]);
    expect(banned.test('keys as in the original system')).toBe(true);
  });
});

describe('the adapter bundles', () => {
  // atomic-stats/prometheus and atomic-stats/opentelemetry are bundled on their own
  // (tsup splitting off): they must carry only stateless leaves (the error classes, the
  // option checks), never a copy of the registry, a kind or the collector, whose state
  // (and instanceof) would then exist twice.
  const dist = resolve(SRC, '../dist');
  const classesIn = (file: string): string[] => [...readFileSync(join(dist, file), 'utf8').matchAll(/var (\w+) = class\b/g)].map((m) => m[1]!);

  it('define no class but error classes', () => {
    for (const file of ['prometheus.js', 'prometheus.cjs', 'opentelemetry.js', 'opentelemetry.cjs']) {
      const classes = classesIn(file);
      expect(classes.length, file).toBeGreaterThan(0);
      expect(classes.filter((c) => !c.endsWith('Error')), file).toEqual([]);
    }
  });

  it('control: the main bundle, where the registry lives, is seen to define its classes', () => {
    const classes = classesIn('index.js');
    expect(classes).toEqual(expect.arrayContaining(['StatsRegistry', 'RegistryCore', 'CounterSet', 'CircuitBreaker']));
  });
});

describe('the table of entry kinds', () => {
  const kind = (name: string) => KINDS.find((k) => k.name === name)!;

  it('keeps every code that records in shared memory already carry', () => {
    // A code is stored in each record: changing one would make old records unreadable.
    expect(Object.fromEntries(KINDS.map((k) => [k.name, k.code]))).toEqual({
      counters: 1,
      stepExecutionStats: 2,
      eventBusStats: 3,
      workerSubscriberStats: 4,
      circuitBreaker: 5,
      counter: 6,
      gauge: 7,
      histogram: 8,
      metricSeries: 9,
      bulkhead: 10,
      rateLimiter: 11,
      summary: 12,
      threadTable: 13,
    });
    expect(Object.isFrozen(KINDS)).toBe(true);
  });

  it('gives each kind a code and a name of its own', () => {
    const codes = KINDS.map((k) => k.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(KINDS.map((k) => k.name)).size).toBe(KINDS.length);
  });

  it("checks a set's descriptor and sizes it; metric kinds check their own", () => {
    const set = (d: Record<string, unknown>) => kind('counters').dataBytes(d, 4);
    expect(set({ fields: ['a', 'b'], striped: false })).toBeGreaterThan(0);
    expect(set({ fields: ['a', 'b'], striped: true })).toBeGreaterThan(set({ fields: ['a', 'b'], striped: false }) as number);
    expect(set({ fields: ['a', 'a'], striped: false })).toBe('its field list is not valid');
    expect(set({ fields: ['a'], striped: 'yes' })).toBe('its striping is not a boolean');
    expect(kind('stepExecutionStats').dataBytes({ fields: ['a', 'b'], striped: true }, 4)).toBe(set({ fields: ['a', 'b'], striped: true }));
    const breaker = (d: Record<string, unknown>) => kind('circuitBreaker').dataBytes(d, 4) as number;
    expect(breaker({ windowMs: 1000 })).toBeGreaterThan(breaker({ windowMs: null }));
    expect(kind('gauge').dataBytes({}, 4)).toBeUndefined();
    expect(kind('metricSeries').dataBytes({}, 4)).toBeUndefined();
  });

  it('every kind but the labelled series (made by their family) has its open; every kind but those is exported by its own collector', () => {
    expect(KINDS.filter((k) => typeof k.open !== 'function').map((k) => k.name)).toEqual(['metricSeries']);
    expect(KINDS.filter((k) => typeof k.collector?.prepare !== 'function').map((k) => k.name)).toEqual([]);
  });
});

describe('the published declarations', () => {
  // What a user's `tsc` sees: dist/*.d.ts (built before the tests), compiled strictly,
  // without skipLibCheck and without the DOM lib, so a declaration that names a stripped
  // internal type, or `WebAssembly`, fails here instead of in a user's build. One program
  // holds the use and a control file that must fail, so the check is shown to bite.
  it('compile strictly, with skipLibCheck off and no DOM lib (and the control fails)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-dts-'));
    try {
      const dist = resolve(SRC, '../dist');
      const use = join(dir, 'use.ts');
      const control = join(dir, 'control.ts');
      writeFileSync(
        use,
        [
          `import { StatsRegistry, InProcessEventBus, WorkerEventSubscriber } from ${JSON.stringify(join(dist, 'index.js'))};`,
          `import { registerAtomicStats } from ${JSON.stringify(join(dist, 'prometheus.js'))};`,
          `import { atomicStatsMetricProducer } from ${JSON.stringify(join(dist, 'opentelemetry.js'))};`,
          'const registry = StatsRegistry.create();',
          "const bus = new InProcessEventBus({ registry, name: 'bus' });",
          "const sub = new WorkerEventSubscriber({ registry, name: 'sub', workerId: 'w' });",
          "registry.counters('c', ['a']).counter('a').inc();",
          'export { bus, sub, registerAtomicStats, atomicStatsMetricProducer };',
        ].join('\n'),
      );
      writeFileSync(control, 'export const m: WebAssembly.Memory | undefined = undefined;\n');
      const program = ts.createProgram([use, control], {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
        types: ['node'],
        typeRoots: [resolve(SRC, '../node_modules/@types')],
      });
      const found = ts.getPreEmitDiagnostics(program).map((d) => ({ file: d.file?.fileName ?? '', text: ts.flattenDiagnosticMessageText(d.messageText, '\n') }));
      expect(found.filter((d) => d.file !== control)).toEqual([]);
      expect(found.filter((d) => d.file === control).map((d) => d.text).join('\n')).toMatch(/WebAssembly/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
