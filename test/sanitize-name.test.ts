import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StatsRegistry, sanitizeName } from '../src/index.js';
import { expectRejected } from './helpers/metrics.js';

describe('sanitizeName', () => {
  it('maps any string to a valid metric-name fragment', () => {
    expect(sanitizeName('http /users')).toBe('http__users');
    expect(sanitizeName('2fast')).toBe('_2fast');
    expect(sanitizeName('a:b_c')).toBe('a:b_c');
    expect(sanitizeName('')).toBe('');
  });

  it.each([5, null, undefined, {}, ['a'], Symbol('s'), 1n])('refuses %s with an InvalidOptionsError naming the argument, changing nothing', (bad) => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(2);
    const err = expectRejected(registry, () => sanitizeName(bad as never), InvalidOptionsError) as InvalidOptionsError;
    expect(err.option).toBe('name');
    expect(err.code).toBe('ERR_INVALID_OPTIONS');
    expect(err.message).toMatch(/^name: sanitizeName takes a string, got /);
  });
});
