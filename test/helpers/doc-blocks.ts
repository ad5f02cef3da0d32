/*
 * The fenced code blocks of the docs, sorted into what the docs test runs
 * (test/docs-blocks.test.ts). The conventions, as docs/README.md states them for writers:
 *
 *   - Every fence names its language. js/mjs/javascript and ts/mts/typescript blocks are
 *     code and all of them run; any other language (sh, text, json...) is not run.
 *   - A block whose first line is `// <file>.mjs` is that file of a program. A page's
 *     file blocks, in page order, make up one program until a file name repeats (which
 *     starts the next); the program runs as `node main.mjs` with its files side by side.
 *   - Any other code block is a program of its own, unless the line right before its
 *     fence marks it as a fragment:
 *       <!-- fragment: registry, breaker -->            run with those stand-ins in scope
 *       <!-- fragment in a worker: registry -->         the same, inside a worker thread
 *                                                       whose workerData is { handle }
 *     The names are stand-ins for the reader's own objects (test/fixtures/doc-stand-ins.mjs),
 *     never the package's exports: a fragment imports what it uses from the package.
 *   - A program's output is the ```text block that comes right after its last block (the
 *     next fence on the page); without one, the program must print nothing.
 *
 * Anything that breaks these rules (a fence without a language, a marker not followed by
 * a fence, a program without main.mjs) is reported as a problem, so a new block can never
 * silently run nowhere.
 */

export const CODE_LANGS: ReadonlySet<string> = new Set(['js', 'mjs', 'javascript', 'ts', 'mts', 'typescript']);
const TS_LANGS: ReadonlySet<string> = new Set(['ts', 'mts', 'typescript']);

export interface Fence {
  readonly page: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** The fragment marker on the line before the fence, if any. */
  readonly marker?: { readonly inWorker: boolean; readonly standIns: readonly string[] };
}

export interface SourceFile {
  readonly name: string;
  readonly code: string;
  readonly typescript: boolean;
  readonly fence: Fence;
}

export type Unit =
  | { readonly kind: 'program'; readonly id: string; readonly files: readonly SourceFile[]; readonly output: string | undefined }
  | {
      readonly kind: 'fragment';
      readonly id: string;
      readonly file: SourceFile;
      readonly inWorker: boolean;
      readonly standIns: readonly string[];
    };

export interface PageBlocks {
  readonly fences: readonly Fence[];
  readonly units: readonly Unit[];
  readonly problems: readonly string[];
}

const FENCE = /^(\s*)(`{3,})(.*)$/;
const MARKER = /^<!--\s*fragment(\s+in a worker)?\s*(?::([^>]*?))?\s*-->\s*$/;
// A line that is an HTML comment about fragments (a marker quoted in prose is not).
const ANY_MARKER = /^\s*<!--\s*fragment\b/;
const FILE_LINE = /^\/\/ ([\w.-]+\.mjs)\b/;

/** Every fence of one Markdown page, with its language, code and marker. */
export function readFences(page: string, markdown: string): { fences: Fence[]; problems: string[] } {
  const lines = markdown.split('\n');
  const fences: Fence[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (ANY_MARKER.test(lines[i]!) && !FENCE.test(lines[i + 1] ?? '')) {
        problems.push(`${page}:${i + 1}: a fragment marker must be the line right before a fence`);
      }
      continue;
    }
    const [, indent, ticks, info] = open as unknown as [string, string, string, string];
    const lang = info.trim().split(/\s+/)[0] ?? '';
    let end = i + 1;
    const closes = (l: string): boolean => /^`{3,}$/.test(l.trim()) && l.trim().length >= ticks.length;
    while (end < lines.length && !closes(lines[end]!)) end++;
    if (end >= lines.length) {
      problems.push(`${page}:${i + 1}: fence never closed`);
      break;
    }
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l));
    const prev = i > 0 ? lines[i - 1]!.trim() : '';
    let marker: Fence['marker'];
    if (ANY_MARKER.test(prev)) {
      const m = MARKER.exec(prev);
      if (!m) problems.push(`${page}:${i}: unreadable fragment marker ${JSON.stringify(prev)}`);
      else {
        const standIns = (m[2] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
        marker = { inWorker: m[1] !== undefined, standIns };
      }
    }
    if (lang === '') problems.push(`${page}:${i + 1}: a fence must name its language (text for output, sh for commands)`);
    fences.push({ page, line: i + 1, lang, code: body.join('\n') + '\n', ...(marker && { marker }) });
    i = end;
  }
  return { fences, problems };
}

/** The programs and fragments of one page (see the conventions above). */
export function pageBlocks(page: string, markdown: string): PageBlocks {
  const { fences, problems } = readFences(page, markdown);
  const units: Unit[] = [];
  const source = (f: Fence, name: string): SourceFile => ({ name, code: f.code, typescript: TS_LANGS.has(f.lang), fence: f });
  const outputAfter = (f: Fence): string | undefined => {
    const next = fences[fences.indexOf(f) + 1];
    return next?.lang === 'text' ? next.code : undefined;
  };

  let current: { files: SourceFile[] } | undefined;
  const close = (): void => {
    if (!current) return;
    const files = current.files;
    current = undefined;
    const where = `${page}:${files[0]!.fence.line}`;
    if (!files.some((f) => f.name === 'main.mjs')) {
      problems.push(`${where}: the program of ${files.map((f) => f.name).join(', ')} has no main.mjs`);
      return;
    }
    units.push({ kind: 'program', id: `${where} (${files.map((f) => f.name).join(' + ')})`, files, output: outputAfter(files.at(-1)!.fence) });
  };

  for (const f of fences) {
    if (!CODE_LANGS.has(f.lang)) {
      if (f.marker) problems.push(`${page}:${f.line}: a fragment marker on a ${f.lang} block, which is not run`);
      continue;
    }
    const named = FILE_LINE.exec(f.code.split('\n', 1)[0]!);
    if (f.marker) {
      if (named) problems.push(`${page}:${f.line}: a fragment cannot also be the file ${named[1]} of a program`);
      units.push({
        kind: 'fragment',
        id: `${page}:${f.line} (fragment${f.marker.inWorker ? ' in a worker' : ''}${f.marker.standIns.length ? `: ${f.marker.standIns.join(', ')}` : ''})`,
        file: source(f, 'fragment.mjs'),
        inWorker: f.marker.inWorker,
        standIns: f.marker.standIns,
      });
    } else if (named) {
      const name = named[1]!;
      if (current?.files.some((s) => s.name === name)) close();
      current ??= { files: [] };
      current.files.push(source(f, name));
    } else {
      units.push({ kind: 'program', id: `${page}:${f.line} (program)`, files: [source(f, 'main.mjs')], output: outputAfter(f) });
    }
  }
  close();
  return { fences, units, problems };
}
