/*
 * The thread table's publication protocol (src/threads/table.ts) raced by real threads:
 * one writer publishing as fast as it can (where a monitor publishes once per interval),
 * readers reading the same slot meanwhile. No read may mix two publications, and none may
 * go back to an older one. The module is bundled from src/ for the workers (they cannot
 * load .ts), so the race runs the very code the package ships.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { SLOT_BYTES } from '../src/threads/layout.js';
import { startWorkers } from './helpers/workers.js';

const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ReaderResult {
  reads: number;
  gaveUp: number;
  torn: number;
  backwards: number;
  last: number;
}

describe('the thread table under a racing writer', () => {
  it('every read is one whole publication, never an older one than the last read', async () => {
    const outfile = join(dir, 'table.mjs');
    await build({ entryPoints: [new URL('../src/threads/table.ts', import.meta.url).pathname], bundle: true, format: 'esm', platform: 'node', outfile, logLevel: 'silent' });
    const bundle = pathToFileURL(outfile).href;
    // One slot of a table at offset 0, and a stripe table whose entry 0 is held (by anyone).
    const buffer = new SharedArrayBuffer(SLOT_BYTES);
    const flags = new SharedArrayBuffer(64);
    const count = 200_000;
    const run = startWorkers<ReaderResult | { published: number }>('thread-table-race.mjs', [
      { role: 'reader', bundle, buffer, flags },
      { role: 'reader', bundle, buffer, flags },
      { role: 'writer', bundle, buffer, flags, count },
    ]);
    const [a, b, writer] = await run.results;
    expect(writer).toEqual({ published: count });
    for (const r of [a, b] as ReaderResult[]) {
      expect(r.torn).toBe(0);
      expect(r.backwards).toBe(0);
      // The readers did race the writer (they read while it published).
      expect(r.reads).toBeGreaterThan(0);
    }
  });
});
