/*
 * The process's own figures, read by the scraping thread once per scrape (collect.ts):
 * they are the same from every thread of a process, so no thread publishes them. Names,
 * help and units are prom-client's collectDefaultMetrics() ones.
 */
import type { FamilySink } from '../kind.js';

type Labels = Readonly<Record<string, string>>;

const NO_LABELS: Labels = Object.freeze({});
// When the process started, on the wall clock (process.uptime() is the process's in every thread).
const START_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000;
const [major = '0', minor = '0', patch = '0'] = (process.versions?.node ?? '0.0.0').split('.');
const VERSION_LABELS: Labels = Object.freeze({ version: process.version, major, minor, patch });

export function emitProcessFigures(out: FamilySink): void {
  let cpu: NodeJS.CpuUsage | undefined;
  try {
    cpu = process.cpuUsage();
  } catch {
    // A runtime without it: the CPU families are left out of this scrape.
  }
  if (cpu !== undefined) {
    out.add('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', 's', NO_LABELS, cpu.user / 1e6, false);
    out.add('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', 's', NO_LABELS, cpu.system / 1e6, false);
    out.add('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', 's', NO_LABELS, (cpu.user + cpu.system) / 1e6, false);
  }
  let rss: number | undefined;
  try {
    rss = typeof process.memoryUsage.rss === 'function' ? process.memoryUsage.rss() : process.memoryUsage().rss;
  } catch {
    // Left out of this scrape.
  }
  if (rss !== undefined) out.add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', 'By', NO_LABELS, rss, true);
  out.add('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', 's', NO_LABELS, START_SECONDS, false);
  out.add('nodejs_version_info', 'gauge', 'Node.js version info.', '1', VERSION_LABELS, 1, true);
}
