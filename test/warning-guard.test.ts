import { describe, expect, it } from 'vitest';
import { runProcess } from './helpers/processes.js';

// The suite's warning guard (test/setup/warnings.ts), run on a fixture file by a vitest
// of its own: an uncaptured warning of ours fails its test, whether this thread or a
// worker thread emits it; a captured one, or another library's, does not.
describe('the warning guard', () => {
  it('fails exactly the tests that leave a warning of ours uncaptured', async () => {
    // It exits with 1 (two of its tests fail on purpose). Its workers are processes of
    // its own: a process group, killed whole after 60 s.
    const r = await runProcess(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/warning-guard/vitest.config.mjs', '--reporter=json'], { timeoutMs: 60_000, group: true });
    if (r.stdout === '') throw new Error(`no report (${r.timedOut ? 'killed after 60 s' : `exit code ${r.code}, signal ${r.signal}`}):\n${r.stderr.slice(-4000)}`);
    const out = r.stdout;
    const report = JSON.parse(out) as { testResults: { assertionResults: { title: string; status: string }[] }[] };
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results).toHaveLength(4);
    for (const t of results) expect([t.title, t.status]).toEqual([t.title, t.title.startsWith('fails:') ? 'failed' : 'passed']);
  }, 120_000);
});
