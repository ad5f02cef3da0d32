/*
 * Thread health: each monitored thread publishes its figures into a slot of the
 * registry's thread table, and any thread reads them (table.ts has the design). The
 * bodies of the façade's three methods are here.
 */
import { monotonicClock } from '../clock.js';
import type { RegistryCore } from '../registry-core.js';
import { type ThreadInfo, listThreads } from './info.js';
import { findThreadTable, threadTableKind } from './kind.js';
import { type ThreadMonitor, type ThreadMonitorOptions, startMonitor } from './monitor.js';
import type { ThreadTable } from './table.js';
import { type StallListener, type ThreadWatch, type ThreadWatchOptions, startWatch } from './watch.js';

export { threadTableKind } from './kind.js';
export { ThreadMonitor } from './monitor.js';
export { ThreadMonitorError } from './errors.js';
export type { ThreadInfo } from './info.js';
export type { ThreadMonitorOptions, ThreadWatchOptions } from './options.js';
export type { StallListener, ThreadWatch } from './watch.js';

/** The body of `registry.monitorThread`. */
export function monitorThread(registry: RegistryCore, options?: ThreadMonitorOptions): ThreadMonitor {
  return startMonitor(registry, () => threadTableKind.open(registry), options);
}

/** The body of `registry.threads`. */
export function threads(registry: RegistryCore): ThreadInfo[] {
  registry.checkOpen();
  const table = findThreadTable(registry);
  return table === undefined ? [] : listThreads(table, monotonicClock());
}

/** The body of `registry.watchThreads`. */
export function watchThreads(registry: RegistryCore, options: ThreadWatchOptions | undefined, callback: StallListener): ThreadWatch {
  registry.checkOpen();
  let table: ThreadTable | undefined;
  const find = (): ThreadTable | undefined => {
    try {
      return (table ??= findThreadTable(registry));
    } catch {
      // The name holds another kind's entry: no thread can be monitored in this registry (monitorThread says so).
      return undefined;
    }
  };
  return startWatch(find, options, callback);
}
