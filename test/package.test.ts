import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// What `npm publish` would ship, and that both module formats load. (publint and
// arethetypeswrong check the same tarball in CI: `npm run check:package`.)
describe('the package', () => {
  it('ships the built entry points, README and LICENSE, and nothing else', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
    const files = (JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path).sort();
    for (const f of files) expect(f).toMatch(/^(dist\/[^/]+\.(js|cjs|d\.ts|d\.cts)|README\.md|LICENSE|package\.json)$/);
    for (const entry of ['index', 'prometheus', 'opentelemetry']) {
      for (const ext of ['js', 'cjs', 'd.ts', 'd.cts']) expect(files).toContain(`dist/${entry}.${ext}`);
    }
  });

  it('loads from CommonJS and from ESM, each entry point', () => {
    const cjs = `const a = require('atomic-stats'); require('atomic-stats/prometheus'); require('atomic-stats/opentelemetry');
      const r = a.StatsRegistry.create(); r.counters('s', ['v']).counter('v').inc(); console.log(r.counters('s', ['v']).counter('v').value());`;
    expect(execFileSync(process.execPath, ['-e', cjs], { encoding: 'utf8' }).trim()).toBe('1');
    const esm = `import { StatsRegistry } from 'atomic-stats'; import { registerAtomicStats } from 'atomic-stats/prometheus'; import { observeAtomicStats } from 'atomic-stats/opentelemetry';
      console.log(typeof StatsRegistry.create, typeof registerAtomicStats, typeof observeAtomicStats);`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', esm], { encoding: 'utf8' }).trim()).toBe('function function function');
  });
});
