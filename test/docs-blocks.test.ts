import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_LANGS, pageBlocks, type SourceFile, type Unit } from './helpers/doc-blocks.js';
import { runProcess } from './helpers/processes.js';

// Every js/ts block of README.md and docs/*.md runs here, as a reader pastes it, against
// the built package resolved by its name: each program or fragment is written to a
// directory of its own under a temporary root whose node_modules/atomic-stats links to
// this repository (package.json "exports" -> dist/), beside links to the repository's
// other packages (prom-client, piscina, the OpenTelemetry SDK). test/helpers/doc-blocks.ts
// states the conventions (programs, fragments and their stand-ins, shown output).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAND_INS = pathToFileURL(join(ROOT, 'test/fixtures/doc-stand-ins.mjs')).href;
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const pages = PAGES.map((page) => ({ page, ...pageBlocks(page, readFileSync(join(ROOT, page), 'utf8')) }));
const units: Unit[] = pages.flatMap((p) => p.units);

let tmp: string;
/** Each unit's directory, entry point and shown sources, or the error writing it met. */
const written = new Map<string, { dir: string; entry: string; shown: Shown[] } | Error>();

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  tmp = mkdtempSync(join(tmpdir(), 'atomic-stats-docs-'));
  const modules = join(tmp, 'node_modules');
  mkdirSync(modules);
  symlinkSync(ROOT, join(modules, 'atomic-stats'), 'dir');
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'atomic-stats') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry), 'dir');
  }
  for (const unit of units) {
    const dir = join(tmp, unit.id.replace(/[^\w.-]+/g, '_'));
    try {
      written.set(unit.id, { dir, ...writeUnit(unit, dir) });
    } catch (e) {
      written.set(unit.id, e as Error);
    }
  }
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** JavaScript for a block: TypeScript is stripped of its types (a syntax error fails). */
function javascript(file: SourceFile, code: string): string {
  if (!file.typescript) return code;
  const out = ts.transpileModule(code, {
    fileName: file.name.replace(/\.mjs$/, '.mts'),
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (errors.length > 0) throw new Error(`${file.fence.page}:${file.fence.line}: ${errors.join('; ')}`);
  return out.outputText;
}

/** A file as shown in the docs, for the name check: where it is, and where its block starts. */
interface Shown {
  readonly path: string;
  readonly file: SourceFile;
  /** Lines put before the block's first line (a fragment's declared stand-ins). */
  readonly before: number;
}

/**
 * Writes a unit's files into `dir`: what runs (JavaScript; a fragment after a prelude
 * that takes its stand-ins from test/fixtures/doc-stand-ins.mjs) and, for the name check
 * below, each block as shown (a fragment's stand-ins declared, of any type). Returns the
 * entry point to run.
 */
function writeUnit(unit: Unit, dir: string): { entry: string; shown: Shown[] } {
  mkdirSync(dir, { recursive: true });
  if (unit.kind === 'program') {
    const shown: Shown[] = [];
    for (const file of unit.files) {
      writeFileSync(join(dir, file.name), javascript(file, file.code));
      // Beside the JavaScript, a TypeScript file as shown (imports of './x.mjs' find the .mjs).
      const path = file.typescript ? join(dir, file.name.replace(/\.mjs$/, '.shown.mts')) : join(dir, file.name);
      if (file.typescript) writeFileSync(path, file.code);
      shown.push({ path, file, before: 0 });
    }
    return { entry: 'main.mjs', shown };
  }
  const names = unit.standIns;
  const prelude = names.length
    ? `import { standIns as __standIns } from ${JSON.stringify(STAND_INS)};\nconst { ${names.join(', ')} } = await __standIns(${JSON.stringify(names)});\n`
    : '';
  writeFileSync(join(dir, 'fragment.mjs'), javascript(unit.file, prelude + unit.file.code));
  const path = join(dir, 'fragment.shown.mts');
  writeFileSync(path, `${names.length ? `declare const ${names.map((n) => `${n}: any`).join(', ')};` : ''}\nexport {};\n${unit.file.code}`);
  const shown = [{ path, file: unit.file, before: 2 }];
  if (!unit.inWorker) return { entry: 'fragment.mjs', shown };
  writeFileSync(
    join(dir, 'host.mjs'),
    `import { runInWorker } from ${JSON.stringify(STAND_INS)};\nawait runInWorker(new URL('./fragment.mjs', import.meta.url));\n`,
  );
  return { entry: 'host.mjs', shown };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a block's program to its end: killed after 30 s, which its result then says. */
async function run(dir: string, entry: string): Promise<Run> {
  const r = await runProcess(process.execPath, [entry], { cwd: dir, timeoutMs: 30_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.timedOut ? `${r.stderr}\n(killed: still running after 30 s)` : r.stderr };
}

describe('the block conventions, on small pages', () => {
  const fence = (lang: string, code: string): string => `\`\`\`${lang}\n${code}\n\`\`\`\n`;

  it('a code block without a marker or a file name is a program; its output is the text block right after it', () => {
    const { units, problems } = pageBlocks('p.md', `${fence('js', 'console.log(1);')}\nprints:\n\n${fence('text', '1')}${fence('ts', 'const x: number = 1;')}`);
    expect(problems).toEqual([]);
    expect(units.map((u) => [u.kind, u.kind === 'program' ? u.output : undefined])).toEqual([
      ['program', '1\n'],
      ['program', undefined],
    ]);
  });

  it('file blocks make up programs, in page order, until a file name repeats', () => {
    const page = [fence('js', '// worker.mjs\na()'), fence('js', '// main.mjs\nb()'), fence('text', 'out'), fence('js', '// main.mjs\nc()'), fence('js', '// task.mjs: x\nd()')].join('\n');
    const { units, problems } = pageBlocks('p.md', page);
    expect(problems).toEqual([]);
    expect(units.map((u) => (u.kind === 'program' ? [u.files.map((f) => f.name), u.output] : u.kind))).toEqual([
      [['worker.mjs', 'main.mjs'], 'out\n'],
      [['main.mjs', 'task.mjs'], undefined],
    ]);
  });

  it('a marked block is a fragment with its stand-ins, in this thread or in a worker', () => {
    const page = `<!-- fragment: registry, breaker -->\n${fence('ts', 'breaker.call(f);')}\n<!-- fragment in a worker -->\n${fence('js', 'x();')}`;
    const { units, problems } = pageBlocks('p.md', page);
    expect(problems).toEqual([]);
    expect(units.map((u) => (u.kind === 'fragment' ? [u.inWorker, u.standIns] : u.kind))).toEqual([
      [false, ['registry', 'breaker']],
      [true, []],
    ]);
  });

  it('reports what would otherwise run nowhere or wrongly', () => {
    const page = [
      fence('', 'untagged'),
      '<!-- fragment: registry -->',
      fence('sh', 'npm test'),
      '<!-- fragment: x -->\n\ntext between',
      fence('js', '// worker.mjs\nw()'),
      '<!-- fragment: x -->',
      fence('js', '// main.mjs\nm()'),
    ].join('\n');
    const { problems } = pageBlocks('p.md', page);
    expect(problems).toEqual([
      'p.md:1: a fence must name its language (text for output, sh for commands)',
      'p.md:10: a fragment marker must be the line right before a fence',
      'p.md:6: a fragment marker on a sh block, which is not run',
      'p.md:19: a fragment cannot also be the file main.mjs of a program',
      'p.md:13: the program of worker.mjs has no main.mjs',
    ]);
  });
});

describe('the docs follow the block conventions', () => {
  it.each(pages.map((p) => [p.page, p] as const))('%s: every fence names its language, every marker marks a code block', (_page, p) => {
    expect(p.problems).toEqual([]);
  });

  it('every code block of the docs runs, exactly once', () => {
    const run = new Map<string, number>();
    for (const u of units) for (const f of u.kind === 'program' ? u.files : [u.file]) run.set(`${f.fence.page}:${f.fence.line}`, (run.get(`${f.fence.page}:${f.fence.line}`) ?? 0) + 1);
    const code = pages.flatMap((p) => p.fences.filter((f) => CODE_LANGS.has(f.lang)).map((f) => `${f.page}:${f.line}`));
    expect(code.length).toBeGreaterThan(0);
    expect(code.filter((at) => run.get(at) !== 1)).toEqual([]);
  });

  it.each(units.filter((u) => u.kind === 'fragment').map((u) => [u.id, u] as const))('%s names only stand-ins it uses', (_id, u) => {
    if (u.kind !== 'fragment') return;
    const unused = u.standIns.filter((name) => !new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(u.file.code));
    expect(unused).toEqual([]);
  });
});

describe.concurrent('every js/ts block of the docs runs against the built package', () => {
  it.each(units.map((u) => [u.id, u] as const))('%s', async (id, unit) => {
    const w = written.get(id);
    if (w instanceof Error || w === undefined) throw w ?? new Error(`${id} was not written`);
    const { code, stdout, stderr } = await run(w.dir, w.entry);
    expect(stderr, `${id}: stderr`).toBe('');
    expect(code, `${id}: exit code`).toBe(0);
    // A program prints exactly the ```text block that follows it (nothing without one).
    if (unit.kind === 'program') expect(stdout.trimEnd(), `${id}: output`).toBe((unit.output ?? '').trimEnd());
  }, 120_000);
});

// A run only meets the names on the paths it takes. This finds, on every path, a name used
// but never declared or imported, an import the package (or Node, or another package)
// does not export, and a name declared twice: TypeScript's checker over every block as
// shown, with stand-ins declared by the prelude, keeping only those diagnostics.
const NAME_ERRORS = new Set([
  1108, // a 'return' statement outside a function
  2300, // duplicate identifier
  2304, // cannot find name
  2305, // module has no exported member
  2307, // cannot find module
  2451, // cannot redeclare block-scoped variable
  2552, // cannot find name; did you mean
  2614, // module has no exported member; did you mean a default import
  2724, // has no exported member named; did you mean
]);

describe('every js/ts block of the docs declares or imports every name it uses', () => {
  it('none uses an undeclared name, imports what is not exported, or declares a name twice', () => {
    const shown = [...written.values()].flatMap((w) => (w instanceof Error ? [] : w.shown));
    expect(shown.length).toBe(units.reduce((n, u) => n + (u.kind === 'program' ? u.files.length : 1), 0));
    const program = ts.createProgram(shown.map((s) => s.path), {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
      skipLibCheck: true,
    });
    const problems: string[] = [];
    for (const { path, file, before } of shown) {
      const sf = program.getSourceFile(path)!;
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        if (!NAME_ERRORS.has(d.code)) continue;
        // The Markdown line: the fence's, plus the line within the block.
        const line = file.fence.line + sf.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 - before;
        problems.push(`${file.fence.page}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
