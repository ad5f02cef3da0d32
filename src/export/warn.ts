/*
 * The exporters' process warnings. A scrape or a collection must never throw at the
 * application for a problem of ours (a name that collides, a read that failed), and it
 * runs every few seconds: so each problem is a process warning, said once per process
 * and key, of the type the registry's own warnings have (`AtomicStatsWarning`, see
 * ERR_CORRUPT_REGISTRY) so that `process.on('warning')` can pick out the package's.
 * Each adapter bundle carries its own copy of this leaf (and so of the set below): their
 * keys differ, so nothing is said twice for that.
 */

const said = new Set<string>();

/** Emits `message` as a process warning with `code`, unless `key` was already warned about. */
export function warnOnce(key: string, message: string, code: string): void {
  if (said.has(key)) return;
  said.add(key);
  process.emitWarning(message, { type: 'AtomicStatsWarning', code });
}
