import { type OpenMetricsContentType, Registry } from 'prom-client';
import { expect } from 'vitest';
import { StatsRegistry, type BackendKind } from '../../src/index.js';
import { startWorkers } from './workers.js';

export const ITERATIONS = 20_000;

/**
 * Three workers do ITERATIONS each on every kind of entry; a fourth loops until it is
 * terminated. Returns the registry (main thread) and the victim's own iteration count.
 */
export async function workedRegistry(backends: BackendKind[]) {
  const registry = StatsRegistry.create();
  const run = startWorkers<{ done: number } | undefined>(
    'export-worker.mjs',
    [...backends.map((backend) => ({ mode: 'work', handle: registry.handle, backend, iterations: ITERATIONS })), { mode: 'victim', handle: registry.handle, backend: 'wasm' }],
    true,
  );
  const victim = run.workers[3]!;
  await new Promise<void>((resolve) => victim.on('message', (m) => m === 'started' && resolve()));
  const victimIterations = () => registry.counters('victim', ['iterations']).counter('iterations').value();
  while (victimIterations() < 1000) await new Promise((r) => setTimeout(r, 5));
  await victim.terminate();
  const results = await run.results;
  expect(results.slice(0, 3)).toEqual(backends.map(() => ({ done: ITERATIONS })));
  return { registry, victimIterations: victimIterations() };
}

/** `name{labels} value` lines of a Prometheus text scrape, as a map. */
export function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}


/** A prom-client Registry in OpenMetrics mode (its typings have no constructor argument). */
export function openMetricsRegistry(): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}
