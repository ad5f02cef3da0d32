// Kills (SIGKILL) every child process a test started through test/helpers/processes.ts and
// left running, after each test and after each file, whether it passed, failed or timed
// out: a test's timeout fails the test but does not stop what it started. After a
// concurrent test (describe.concurrent) other tests of the file may still be running with
// children of their own, so those are left to the end of the file (each such run has its
// own bound meanwhile).
import { afterAll, afterEach } from 'vitest';
import { killChildren } from '../helpers/processes.js';

afterEach(async ({ task }) => {
  if (!task.concurrent) await killChildren();
});
afterAll(killChildren);
