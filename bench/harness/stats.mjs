// Order statistics of a sample of ns/op values: the median is the figure we report,
// p25..p75 the spread (robust against the odd round that the OS scheduler ruined).
export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => {
    const x = (s.length - 1) * p;
    const lo = Math.floor(x);
    const hi = Math.ceil(x);
    return s[lo] + (s[hi] - s[lo]) * (x - lo);
  };
  return { median: q(0.5), p25: q(0.25), p75: q(0.75), min: s[0], max: s[s.length - 1], samples: s.length };
}
