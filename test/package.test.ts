import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

// What `npm publish` would ship, and that both module formats load. (publint and
// arethetypeswrong check the same tarball in CI: `npm run check:package`.)
describe('the package', () => {
  it('ships the built entry points, README and LICENSE, and nothing else', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    const files = (JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path).sort();
    for (const f of files) expect(f).toMatch(/^(dist\/[^/]+\.(js|cjs|d\.ts|d\.cts)|README\.md|LICENSE|package\.json)$/);
    for (const entry of ['index', 'prometheus', 'opentelemetry']) {
      for (const ext of ['js', 'cjs', 'd.ts', 'd.cts']) expect(files).toContain(`dist/${entry}.${ext}`);
    }
    // serveMetrics' server thread: a script of each build, found beside the entry point.
    for (const ext of ['js', 'cjs']) expect(files).toContain(`dist/metrics-server-thread.${ext}`);
  });

  it('loads from CommonJS and from ESM, each entry point', () => {
    const cjs = `const a = require('atomic-stats'); require('atomic-stats/prometheus'); require('atomic-stats/opentelemetry');
      const r = a.StatsRegistry.create(); r.counters('s', ['v']).counter('v').inc(); console.log(r.counters('s', ['v']).counter('v').value());`;
    expect(execFileSync(process.execPath, ['-e', cjs], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' }).trim()).toBe('1');
    const esm = `import { StatsRegistry } from 'atomic-stats'; import { registerAtomicStats } from 'atomic-stats/prometheus'; import { observeAtomicStats } from 'atomic-stats/opentelemetry';
      console.log(typeof StatsRegistry.create, typeof registerAtomicStats, typeof observeAtomicStats);`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', esm], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' }).trim()).toBe('function function function');
  });

  // The changelog's first heading names the version being written, "Unreleased (x.y.z)"
  // until it is published, "x.y.z" after: package.json and its lock file carry the same.
  it('has the version its changelog is written for, in package.json and package-lock.json', () => {
    const version = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string }).version;
    const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { version: string; packages: Record<string, { version?: string }> };
    const heading = /^## (?:Unreleased \((\d+\.\d+\.\d+)\)|(\d+\.\d+\.\d+))/m.exec(readFileSync(new URL('CHANGELOG.md', root), 'utf8'));
    expect(heading).not.toBeNull();
    expect(version).toBe(heading![1] ?? heading![2]);
    expect(lock.version).toBe(version);
    expect(lock.packages['']!.version).toBe(version);
  });

  it('names its public home: repository, homepage and bugs agree', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      repository?: { type?: string; url?: string };
      homepage?: string;
      bugs?: string | { url?: string };
      keywords?: unknown;
    };
    expect(pkg.repository?.type).toBe('git');
    const m = /^git\+https:\/\/github\.com\/([\w.-]+\/[\w.-]+)\.git$/.exec(pkg.repository?.url ?? '');
    expect(m).not.toBeNull();
    const home = `https://github.com/${m![1]}`;
    expect(pkg.homepage).toBe(`${home}#readme`);
    expect(typeof pkg.bugs === 'string' ? pkg.bugs : pkg.bugs?.url).toBe(`${home}/issues`);
    expect(Array.isArray(pkg.keywords)).toBe(true);
    const keywords = pkg.keywords as unknown[];
    for (const k of keywords) expect(k).toMatch(/^[a-z0-9_-]+$/);
    expect(new Set(keywords).size).toBe(keywords.length);
  });

  // The README ships in the tarball, where only links that npm and GitHub resolve against
  // `repository` work: relative links into docs/ (which must exist), or absolute URLs.
  it('ships a README whose links resolve: relative links into docs/ only, each to an existing file', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(350);
    expect(readme).toContain('npm install atomic-stats');
    const prose = readme.replace(/```[\s\S]*?```/g, '');
    const targets = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((x) => x[1]!);
    expect(targets.length).toBeGreaterThan(5);
    for (const t of targets) {
      if (/^https?:\/\//.test(t) || t.startsWith('#')) continue;
      expect(t).toMatch(/^docs\//);
      expect(existsSync(new URL(t.split('#')[0]!, root)), t).toBe(true);
    }
    expect(readme).not.toMatch(/SPEC §|original system/);
  });
});
