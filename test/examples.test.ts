import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's quick start is examples/quickstart; running it keeps the docs honest.
describe('examples', () => {
  it('quick start prints the totals of four workers', () => {
    const out = execFileSync(process.execPath, ['examples/quickstart/main.mjs'], { encoding: 'utf8' });
    expect(out.trim()).toBe('{ ok: 400000, failed: 0 }');
  });

  it('the Prometheus HTTP example serves every worker\'s counts with a Content-Type', () => {
    const out = execFileSync(process.execPath, ['examples/prometheus-http/main.mjs', '--once'], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      'content-type: text/plain; version=0.0.4; charset=utf-8',
      'atomic_stats_set_http_requests_total{set="http_requests",field="ok"} 29700',
      'atomic_stats_set_http_requests_total{set="http_requests",field="failed"} 300',
    ]);
  });
});
