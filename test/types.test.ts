import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

// The signatures users read are part of the API: test/fixtures/bus-types.ts holds type-level
// checks of the event bus (what must compile, and what must not, as @ts-expect-error lines).
// `tsc --noEmit` compiles it against the sources (tsconfig.json includes test/); here it is
// compiled against the declarations the package ships (dist/, built by `npm test` first), and
// once against those declarations with the old signatures put back, to show that the
// fixture notices such a regression.

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURE = resolve(ROOT, 'test/fixtures/bus-types.ts');
// The same checks importing the package by its name, which resolves to dist/*.d.ts. It is
// given to the compiler as a file inside the repository so that the self-reference resolves.
const AS_PACKAGE = resolve(ROOT, 'test/fixtures/bus-types.package.ts');

/** The project's compiler options, and its global declaration files (the WebAssembly types). */
function project(): { options: ts.CompilerOptions; globals: string[] } {
  const config = ts.readConfigFile(resolve(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  return { options: { ...parsed.options, noEmit: true }, globals: parsed.fileNames.filter((f) => f.endsWith('.d.ts')) };
}

const parsed = new Map<string, ts.SourceFile>();

/** Diagnostics of compiling `root`, with some files' text replaced; formatted as `file:line: TSnnnn message`. */
function compile(root: string, overrides: ReadonlyMap<string, string>): string[] {
  const { options, globals } = project();
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (f) => overrides.get(resolve(f)) ?? readFile(f);
  host.fileExists = (f) => overrides.has(resolve(f)) || fileExists(f);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onError, create) => {
    const text = overrides.get(resolve(f));
    if (text !== undefined) return ts.createSourceFile(f, text, lang);
    // Parsed once for every compile of this file (the lib and @types/node files mostly).
    let sf = parsed.get(f);
    if (sf === undefined) {
      sf = getSourceFile(f, lang, onError, create);
      if (sf !== undefined) parsed.set(f, sf);
    }
    return sf;
  };
  const program = ts.createProgram([root, ...globals], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName.slice(ROOT.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '-';
    return `${where}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

const fixture = readFileSync(FIXTURE, 'utf8');
const asPackage = fixture.replace("from '../../src/index.js'", "from 'atomic-stats'");
const lineOf = (needle: string): number => fixture.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** The shipped declaration file that declares InProcessEventBus (a shared chunk of the bundle). */
function busDeclarations(): { path: string; text: string } {
  for (const name of readdirSync(resolve(ROOT, 'dist'))) {
    if (!name.endsWith('.d.ts')) continue;
    const path = resolve(ROOT, 'dist', name);
    const text = readFileSync(path, 'utf8');
    if (text.includes('declare class InProcessEventBus')) return { path, text };
  }
  throw new Error('no declaration of InProcessEventBus in dist/');
}

describe('event bus types', () => {
  beforeAll(() => {
    expect(asPackage).not.toBe(fixture);
  });

  it('the fixture compiles against the declarations the package ships, every @ts-expect-error line failing', () => {
    expect(compile(AS_PACKAGE, new Map([[AS_PACKAGE, asPackage]]))).toEqual([]);
  });

  it('the shipped declarations say what the runtime accepts', () => {
    const { text } = busDeclarations();
    expect(text).toMatch(/publish<E extends \{\s*readonly event_name: string;\s*\}>\(event: E\): Promise<void> \| undefined;/);
    expect(text).toContain('subscribe<P = unknown>(pattern: string, handler: EventHandler<P>): () => void;');
    expect(text).toContain('type EventHandler<P = unknown> = (event: DomainEvent<P>) => unknown;');
    // The implementation's own signature is not part of the declarations.
    expect(text).not.toContain('publish(event: DomainEvent)');
  });

  it('the fixture notices the old signatures: a full DomainEvent demanded, no payload generic', () => {
    const { path, text } = busDeclarations();
    const old = text
      .replace(/publish<E extends \{\s*readonly event_name: string;\s*\}>\(event: E\)/, 'publish(event: DomainEvent)')
      .replace('subscribe<P = unknown>(pattern: string, handler: EventHandler<P>)', 'subscribe(pattern: string, handler: EventHandler)')
      .replace('type EventHandler<P = unknown> = (event: DomainEvent<P>) => unknown;', 'type EventHandler = (event: DomainEvent) => unknown;');
    expect(old).not.toBe(text);
    const errors = compile(AS_PACKAGE, new Map([[AS_PACKAGE, asPackage], [path, old]]));
    const at = (needle: string): string[] => errors.filter((e) => e.startsWith(`test/fixtures/bus-types.package.ts:${lineOf(needle)}:`));
    // publish of a bare { event_name } and of extra fields no longer compiles ...
    expect(at("bus.publish({ event_name: 'payment.charged' });")).not.toEqual([]);
    expect(at("source: 'checkout' });")).not.toEqual([]);
    expect(at('bus.publish(new OrderPlaced')).not.toEqual([]);
    // ... subscribe takes no type argument, and EventHandler none either.
    expect(at("bus.subscribe<Charged>('payment.*', (event) => {").join('\n')).toContain('TS2558');
    expect(at('const onCharged: EventHandler<Charged>').join('\n')).toContain('TS2315');
  });
});

// The same for the metric kinds' label types (test/fixtures/metric-types.ts): with literal
// label names, a label object naming another label must not compile, through the sources,
// the shipped declarations, and the registry's façade methods.
const METRIC_FIXTURE = resolve(ROOT, 'test/fixtures/metric-types.ts');
const METRIC_AS_PACKAGE = resolve(ROOT, 'test/fixtures/metric-types.package.ts');
const metricFixture = readFileSync(METRIC_FIXTURE, 'utf8');
const metricAsPackage = metricFixture.replace("from '../../src/index.js'", "from 'atomic-stats'");
const LABEL_VALUES_DECL = /type LabelValues<T extends string = string> = \{\s*readonly \[K in T\]\?: string \| number;\s*\};/;

/** The shipped declaration file that declares LabelValues. */
function labelDeclarations(): { path: string; text: string } {
  for (const name of readdirSync(resolve(ROOT, 'dist'))) {
    if (!name.endsWith('.d.ts')) continue;
    const path = resolve(ROOT, 'dist', name);
    const text = readFileSync(path, 'utf8');
    if (LABEL_VALUES_DECL.test(text)) return { path, text };
  }
  throw new Error('no declaration of LabelValues in dist/');
}

describe('metric label types', () => {
  beforeAll(() => {
    expect(metricAsPackage).not.toBe(metricFixture);
  });

  it('the fixture compiles against the declarations the package ships, every @ts-expect-error line failing', () => {
    expect(compile(METRIC_AS_PACKAGE, new Map([[METRIC_AS_PACKAGE, metricAsPackage]]))).toEqual([]);
  });

  it('the shipped façade methods are generic over the label names', () => {
    const { text } = labelDeclarations();
    expect(text).toContain('counter<T extends string = string>(configuration: CounterConfiguration<T>): CounterMetric<T>;');
    expect(text).toContain('gauge<T extends string = string>(configuration: GaugeConfiguration<T>): GaugeMetric<T>;');
    expect(text).toContain('histogram<T extends string = string>(configuration: HistogramConfiguration<T>): HistogramMetric<T>;');
  });

  it('the fixture notices label objects typed as before (any names): every misspelt label compiles again', () => {
    const { path, text } = labelDeclarations();
    const old = text.replace(LABEL_VALUES_DECL, 'type LabelValues<T extends string = string> = Labels;');
    expect(old).not.toBe(text);
    const errors = compile(METRIC_AS_PACKAGE, new Map([[METRIC_AS_PACKAGE, metricAsPackage], [path, old]]));
    const lines = metricFixture.split('\n');
    // Each directive above a misspelt or unknown label name is now unused (TS2578).
    const expected = lines.flatMap((l, i) => (l.includes('@ts-expect-error') && /\brout\b|\bpol\b|\bstpe\b|\bmethod\b/.test(lines[i + 1]!) ? [i + 1] : []));
    expect(expected.length).toBeGreaterThanOrEqual(12);
    for (const line of expected) {
      expect(errors.filter((e) => e.startsWith(`test/fixtures/metric-types.package.ts:${line}:`)).join('\n')).toContain('TS2578');
    }
  });
});

// The breaker's call context and the error classes: compiled against the shipped declarations.
describe.each(['breaker-types', 'error-types'])('test/fixtures/%s.ts', (name) => {
  const file = resolve(ROOT, `test/fixtures/${name}.ts`);
  const asPackageFile = resolve(ROOT, `test/fixtures/${name}.package.ts`);

  it('compiles against the declarations the package ships, every @ts-expect-error line failing', () => {
    const text = readFileSync(file, 'utf8').replace("from '../../src/index.js'", "from 'atomic-stats'");
    expect(text).toContain("from 'atomic-stats'");
    expect(compile(asPackageFile, new Map([[asPackageFile, text]]))).toEqual([]);
  });
});
