import { InvalidPatternError } from './errors.js';

/**
 * A compiled subscription pattern: `*` alone matches every name, the empty one
 * included; a pattern with `*` elsewhere matches names of the same number of
 * `.`-segments where each pattern segment is `*` or equal; anything else is an exact,
 * case-sensitive match. `*` inside a segment (`pay*.x`) is a literal character.
 */
export type PatternMatcher = (eventName: string) => boolean;

export function checkPattern(pattern: unknown): string {
  if (typeof pattern !== 'string') throw new InvalidPatternError(pattern, 'must be a string');
  if (pattern.length === 0) throw new InvalidPatternError(pattern, 'pattern is empty');
  return pattern;
}

export function compilePattern(pattern: string): PatternMatcher {
  checkPattern(pattern);
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (name) => name === pattern;
  // null stands for a `*` segment; other segments compare literally (a `*` inside a
  // longer segment included).
  const segments = pattern.split('.').map((s) => (s === '*' ? null : s));
  const n = segments.length;
  return (name) => {
    const parts = name.split('.');
    if (parts.length !== n) return false;
    for (let i = 0; i < n; i++) {
      const s = segments[i];
      if (s !== null && s !== parts[i]) return false;
    }
    return true;
  };
}
