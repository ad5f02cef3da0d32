import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The suite's warning guard (test/setup/warnings.ts), run on a fixture file by a vitest
// of its own: an uncaptured warning of ours fails its test, whether this thread or a
// worker thread emits it; a captured one, or another library's, does not.
describe('the warning guard', () => {
  it('fails exactly the tests that leave a warning of ours uncaptured', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/warning-guard/vitest.config.mjs', '--reporter=json'],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout) => (stdout ? resolve(stdout) : reject(err ?? new Error('no report'))),
      );
    });
    const report = JSON.parse(out) as { testResults: { assertionResults: { title: string; status: string }[] }[] };
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results).toHaveLength(4);
    for (const r of results) expect([r.title, r.status]).toEqual([r.title, r.title.startsWith('fails:') ? 'failed' : 'passed']);
  });
});
