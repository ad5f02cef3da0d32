import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's quick start is examples/quickstart; running it keeps the docs honest.
describe('examples', () => {
  it('quick start prints the totals of four workers', () => {
    const out = execFileSync(process.execPath, ['examples/quickstart/main.mjs'], { encoding: 'utf8' });
    expect(out.trim()).toBe('{ ok: 400000, failed: 0 }');
  });
});
