/*
 * The thread table's kind: one directory entry per registry, TABLE_NAME, holding a slot
 * per owned stripe (table.ts has the design, layout.ts the bytes). It is created by the
 * first monitorThread() of any thread; threads() and watchThreads() only read it, and see
 * no thread until one is monitored. A scrape exports it through collect.ts.
 */
import type { Kind, RegistryCore } from '../registry-core.js';
import { prepareThreadTable } from './collect.js';
import { TABLE_LAYOUT, TABLE_NAME, tableBytes } from './layout.js';
import { ThreadTable } from './table.js';

function openTable(registry: RegistryCore): ThreadTable {
  return registry.openEntry(TABLE_NAME, threadTableKind, { layout: TABLE_LAYOUT }, tableBytes(registry.stripes), (dataOffset) =>
    new ThreadTable(registry.views.i32.buffer, dataOffset, registry.stripes, registry.table),
  );
}

/** The registry's thread table, or undefined while no thread has been monitored (nothing is created). */
export function findThreadTable(registry: RegistryCore): ThreadTable | undefined {
  return registry.directory.find(TABLE_NAME) === undefined ? undefined : openTable(registry);
}

/** The thread table's kind. */
export const threadTableKind = {
  name: 'threadTable',
  code: 13,
  // One layout so far; a table of another (a newer version's) is refused, never guessed at.
  dataBytes: (d, stripes) => (d.layout === TABLE_LAYOUT ? tableBytes(stripes) : `its layout ${JSON.stringify(d.layout)} is not one this version reads`),
  collector: { prepare: prepareThreadTable },
  /** Gets or creates the registry's thread table. */
  open: openTable,
} satisfies Kind;
