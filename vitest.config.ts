import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails a test during which atomic-stats emits a warning the test did not capture;
    // kills the child processes a test left running (test/helpers/processes.ts).
    setupFiles: ['test/setup/warnings.ts', 'test/setup/children.ts'],
    // Worker-thread stress tests start several threads each; on a 2-core machine,
    // running test files one after another keeps them from starving each other.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
