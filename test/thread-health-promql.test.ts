/*
 * The PromQL cookbook of docs/thread-health.md is pasted into dashboards and alert rules:
 * every expression must parse (Debian's promtool, the Prometheus parser itself, through
 * `promtool check rules`), and every family it names must be one a scrape exports.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';

const PAGE = fileURLToPath(new URL('../docs/thread-health.md', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'atomic-stats-promql-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The expressions of a page's promql blocks: one per line, an indented line continuing the one before. */
function cookbook(markdown: string): string[] {
  const exprs: string[] = [];
  for (const block of markdown.matchAll(/^```promql\n([\s\S]*?)^```$/gm)) {
    for (const line of block[1]!.split('\n')) {
      if (line.trim() === '') continue;
      if (/^\s/.test(line) && exprs.length > 0) exprs[exprs.length - 1] += ` ${line.trim()}`;
      else exprs.push(line.trim());
    }
  }
  return exprs;
}

/** What promtool says of the expressions as recording rules (nothing when they all parse). */
function promtoolRules(exprs: string[]): string[] {
  const file = join(tmp, `rules-${Math.random().toString(36).slice(2)}.yml`);
  // JSON is YAML: no quoting to get wrong.
  writeFileSync(file, JSON.stringify({ groups: [{ name: 'cookbook', rules: exprs.map((expr, i) => ({ record: `cookbook:q${i}`, expr })) }] }));
  const r = spawnSync('/usr/bin/promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus): ${r.error.message}`);
  return r.status === 0 ? [] : `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error|FAILED/i.test(l));
}

/** The families an expression names that a scrape does not have (a histogram's _bucket, _sum and _count count as its name). */
function unknownNames(expr: string, scraped: ReadonlySet<string>): string[] {
  const names = expr.match(/\b(?:nodejs|process|atomic_stats)_[a-z0-9_]+\b/g) ?? [];
  return names.filter((n) => !scraped.has(n) && !scraped.has(n.replace(/_(bucket|sum|count)$/, '')));
}

describe('the PromQL cookbook (docs/thread-health.md)', () => {
  const exprs = cookbook(readFileSync(PAGE, 'utf8'));

  it('has its expressions, each whole', () => {
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    // Every bracket closed within its expression: the continuation lines were joined.
    for (const e of exprs) expect([...e].filter((c) => c === '(').length, e).toBe([...e].filter((c) => c === ')').length);
  });

  it('every expression parses (promtool check rules)', () => {
    expect(promtoolRules(exprs)).toEqual([]);
    // The check is live: a broken expression is reported.
    expect(promtoolRules(['sum by (thread (nodejs_heap_size_used_bytes)'])).not.toEqual([]);
  });

  it('names only families a scrape of monitored threads exports', async () => {
    const registry = StatsRegistry.create();
    const monitor = registry.monitorThread({ name: 'main' });
    try {
      const prom = new Registry();
      registerAtomicStats(registry, { register: prom });
      const scraped = new Set((await prom.getMetricsAsJSON()).map((m) => m.name));
      for (const e of exprs) expect(unknownNames(e, scraped), e).toEqual([]);
      expect(unknownNames('nodejs_heap_used_bytes', scraped)).toEqual(['nodejs_heap_used_bytes']);
    } finally {
      monitor.stop();
      registry.close();
    }
  });
});
