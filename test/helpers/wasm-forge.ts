// A tiny WebAssembly binary writer, to forge modules that try to pass for the core.
// Each function has type () -> i32 and a body given as raw instruction bytes.
import { leb128 as leb } from '../../src/wasm-module.js';

const str = (s: string) => {
  const b = [...Buffer.from(s, 'utf8')];
  return [...leb(b.length), ...b];
};
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];

/** Instruction bytes. */
export const op = {
  i32: (v: number) => [0x41, ...sleb(v)],
  /** i32.store at the address and value on the stack. */
  store: [0x36, 0x02, 0x00],
  loopForever: [0x03, 0x40, 0x0c, 0x00, 0x0b],
};

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export interface Forgery {
  /** Import env.memory as shared with these limits (default 1..65536). */
  memory?: { min: number; max: number; shared?: boolean } | null;
  /** Extra function imports (module, name), typed () -> i32. */
  importFunctions?: [string, string][];
  /** Exports in order: a function (name and body, leaving one i32), or the memory (body null). */
  functions?: [string, number[] | null][];
  /** Index (among `functions`) of a start function; its body must leave nothing. */
  start?: { body: number[] };
  /** Custom sections to append: name and payload. */
  custom?: [string, Uint8Array][];
}

export function forge(f: Forgery): WebAssembly.Module {
  const types = section(1, vec([[0x60, 0x00, 0x01, 0x7f], [0x60, 0x00, 0x00]]));
  const imports: number[][] = [];
  for (const [m, n] of f.importFunctions ?? []) imports.push([...str(m), ...str(n), 0x00, 0x00]);
  const mem = f.memory === undefined ? { min: 1, max: 65536, shared: true } : f.memory;
  if (mem !== null) imports.push([...str('env'), ...str('memory'), 0x02, mem.shared === false ? 0x01 : 0x03, ...leb(mem.min), ...leb(mem.max)]);
  const importCount = (f.importFunctions ?? []).length;
  const all = f.functions ?? [];
  const fns = all.filter(([, body]) => body !== null) as [string, number[]][];
  const bodies = fns.map(([, body]) => body);
  const typeIdx = fns.map(() => 0);
  let startIdx: number | undefined;
  if (f.start) {
    startIdx = importCount + fns.length;
    bodies.push(f.start.body);
    typeIdx.push(1);
  }
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types];
  if (imports.length > 0) out.push(...section(2, vec(imports)));
  if (typeIdx.length > 0) out.push(...section(3, vec(typeIdx.map((t) => [t]))));
  let fi = 0;
  const exportEntries = all.map(([name, body]) => (body === null ? [...str(name), 0x02, 0x00] : [...str(name), 0x00, ...leb(importCount + fi++)]));
  if (all.length > 0) out.push(...section(7, vec(exportEntries)));
  if (startIdx !== undefined) out.push(...section(8, leb(startIdx)));
  if (bodies.length > 0) {
    out.push(
      ...section(
        10,
        vec(
          bodies.map((b) => {
            const body = [0x00, ...b, 0x0b]; // no locals
            return [...leb(body.length), ...body];
          }),
        ),
      ),
    );
  }
  for (const [name, payload] of f.custom ?? []) out.push(...section(0, [...str(name), ...payload]));
  return new WebAssembly.Module(new Uint8Array(out));
}
