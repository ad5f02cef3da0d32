// The suite's child-process helpers (test/helpers/processes.ts, test/setup/children.ts):
// every wait is bounded and says what it waited for, and a test that fails (a timeout, a
// throw, a failed assertion) leaves no child process running, a Prometheus server
// included.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess, startProcess, within } from './helpers/processes.js';

/** Whether a process with this id is running (a zombie counts as gone: it runs nothing). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  // SIGKILL is delivered at once, but the process is reaped a moment later.
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !running(pid);
}

const forever = ['-e', 'setInterval(() => {}, 1000)'];

describe('bounded waits', () => {
  it('within() resolves with the value in time, and otherwise rejects naming what it waited for', async () => {
    expect(await within(Promise.resolve(7), 1000, 'seven')).toBe(7);
    await expect(within(new Promise(() => {}), 20, 'a promise that never settles')).rejects.toThrow('timed out after 20 ms waiting for a promise that never settles');
  });

  it('runProcess kills a program past its bound and says so', async () => {
    const r = await runProcess(process.execPath, forever, { timeoutMs: 200 });
    expect([r.timedOut, r.code, r.signal]).toEqual([true, null, 'SIGKILL']);
    const ok = await runProcess(process.execPath, ['-e', 'console.log(1)'], { timeoutMs: 30_000 });
    expect([ok.timedOut, ok.code, ok.signal, ok.stdout]).toEqual([false, 0, null, '1\n']);
  });

  it('waitFor rejects naming what it waited for, with the output, when the program exits first or the bound passes', async () => {
    const early = startProcess(process.execPath, ['-e', 'console.log("bye")']);
    await expect(early.waitFor((out) => out.includes('hello'), 30_000, 'a greeting')).rejects.toThrow(/exited \(code 0, signal null\) before a greeting[\s\S]*bye/);
    const quiet = startProcess(process.execPath, forever);
    await expect(quiet.waitFor((out) => out.includes('hello'), 100, 'a greeting')).rejects.toThrow('timed out after 100 ms waiting for a greeting');
    await quiet.kill();
    expect(quiet.child.signalCode).toBe('SIGKILL');
  });

  it("a program's exit is seen although a process it started still holds its output", async () => {
    // The child starts a grandchild that inherits its stdout and stderr, prints its pid and
    // exits: the pipes stay open as long as the grandchild runs, so 'close' does not come.
    const p = startProcess(process.execPath, ['-e', `const c = require('child_process').spawn(process.execPath, ${JSON.stringify(forever)}, { stdio: 'inherit', detached: true }); c.unref(); console.log(c.pid);`]);
    const e = await p.exited(30_000, 'the parent of a lingering grandchild');
    const grandchild = Number(p.stdout().trim());
    try {
      expect(e.code).toBe(0);
      expect(running(grandchild)).toBe(true);
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });

  it('a process group is killed whole', async () => {
    const p = startProcess(process.execPath, ['-e', `const c = require('child_process').spawn(process.execPath, ${JSON.stringify(forever)}, { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`], { group: true });
    const grandchild = Number(await p.waitFor((out) => /^(\d+)\n/.exec(out)?.[1], 30_000, 'the grandchild pid'));
    expect(running(grandchild)).toBe(true);
    await p.kill();
    expect(await gone(grandchild)).toBe(true);
  });
});

describe('a failed test leaves no child process', () => {
  it('after a timeout, a throw and a failed assertion (with a Prometheus server), every child is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-children-'));
    const pidsFile = join(dir, 'pids');
    const pids = () => readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
    try {
      // Not as a process group (which would be killed whole at its end): what is checked is
      // that the run itself stops its children.
      const r = await runProcess(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/children/vitest.config.mjs', '--reporter=json'], {
        timeoutMs: 90_000,
        env: { ...process.env, PIDS_FILE: pidsFile },
      });
      expect(r.timedOut, r.stderr).toBe(false);
      const report = JSON.parse(r.stdout) as { testResults: { assertionResults: { title: string; status: string }[] }[] };
      expect(report.testResults.flatMap((f) => f.assertionResults.map((t) => t.status))).toEqual(['failed', 'failed', 'failed']);
      expect(pids()).toHaveLength(3);
      for (const pid of pids()) expect(await gone(pid), `child ${pid} is still running`).toBe(true);
    } finally {
      // Whatever this test found still running, it does not leave.
      try {
        for (const pid of pids()) if (running(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        /* no pids file: nothing was started */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
