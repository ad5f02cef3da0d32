// Kills (SIGKILL) every child process a test started through test/helpers/processes.ts and
// left running, after each test and after each file, whether it passed, failed or timed
// out: a test's timeout fails the test but does not stop what it started.
import { afterAll, afterEach } from 'vitest';
import { killChildren } from '../helpers/processes.js';

afterEach(killChildren);
afterAll(killChildren);
