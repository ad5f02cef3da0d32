// Order statistics of small samples (one value per repetition): min / median / max is
// what every table reports, since a median of 5 with its full range shows the spread
// honestly, where p25..p75 of 5 values would be two interpolated guesses.
export function quantile(sorted, p) {
  const x = (sorted.length - 1) * p;
  const lo = Math.floor(x);
  const hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}

export function summarize(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return { min: NaN, median: NaN, max: NaN, n: 0 };
  return { min: s[0], median: quantile(s, 0.5), max: s[s.length - 1], n: s.length };
}
