// Scaling with entries: how per-call costs grow with the number of entries in one
// registry, from 10 to 100, 1,000 and 10,000 (single thread).
//
// One table per operation, whose variants are the registry sizes (interleaved, in
// rotated order), with the 10-entry registry as the baseline, so "vs baseline" is a
// same-run ratio to the 10-entry figure; each variant also reports ns per entry.
//
// Each variant's registry holds E counter sets `entry.<i>` with fields ok and failed
// (ok = 1 in each, so reads see non-zero values), unstriped, and is created with
// capacityBytes = 2 KiB per entry (at least the 64 KiB minimum): an entry uses 256 bytes
// (a 128-byte record head and a 128-byte data block), and the directory gets one slot
// per KiB of capacity, so it is at most half full and its probe sequences stay short.
//
// Operations:
// - lookup, fresh attachment: a get-or-create of an existing name that this attachment
//   has not opened yet: hashing the name, probing the shared directory, decoding the
//   record and building this thread's CounterSet. To repeat it, the case forgets the
//   name in the attachment's per-thread cache before each call (the cache is internal:
//   the case checks that it exists, and that every call returned a new object, so it
//   cannot silently measure a cache hit instead).
// - lookup, warm attachment: the same call for a name this attachment already opened:
//   the per-thread cache (a Map) and the signature check.
//   Both lookups visit every name, in a scattered order (a prime step through the list),
//   so the large registries cannot serve them from a few cache lines.
// - registry.entries(), registry.usage(), registry.collect(): whole-registry reads.
// - snapshot() of one counter set: independent of the entry count, a control that shows
//   what the machine alone does to a figure between table rows.
// Each call checks its result (the entry count, a value), and verify() requires that
// every call's check passed and that the registry still holds exactly E entries.
import { StatsRegistry } from '../../dist/index.js';

export const SIZES = [10, 100, 1000, 10000];
const FIELDS = ['ok', 'failed'];
const STEP = 7919; // a prime: coprime with every size, so the walk visits every name
const name = (i) => `entry.${i}`;

const OPS = [
  ['lookup-fresh', 'get-or-create of an existing name, fresh attachment (shared directory lookup)'],
  ['lookup-warm', 'get-or-create of an existing name, warm attachment (per-thread cache)'],
  ['entries', 'registry.entries()'],
  ['usage', 'registry.usage()'],
  ['collect', 'registry.collect()'],
  ['snapshot', 'counter set snapshot() (control: independent of entries)'],
];
const WHOLE = new Set(['entries', 'usage', 'collect']);

export const cases = OPS.flatMap(([op, what]) =>
  SIZES.map((e) => ({
    id: `entries/${op}/${e}`,
    table: `scaling with entries: ${what}`,
    variant: `${e.toLocaleString('en-US')} entries`,
    threads: [1],
    // Lookups take microseconds and whole-registry reads up to hundreds of milliseconds:
    // smaller chunks, so that thread 0 can end a round close to its time.
    chunk: WHOLE.has(op) ? Math.max(1, 1000 / e) : op === 'snapshot' ? 100 : 10,
    ...(WHOLE.has(op) ? { units: e, unit: 'entry' } : {}),
    ...(e === SIZES[0] ? { baseline: true } : {}),
  })),
);

const parse = (id) => {
  const [, op, e] = id.split('/');
  return { op, size: Number(e) };
};

export async function setup(id) {
  const { size } = parse(id);
  const registry = StatsRegistry.create({ capacityBytes: Math.max(65536, size * 2048) });
  for (let i = 0; i < size; i++) registry.counters(name(i), FIELDS).counter('ok').inc();
  return { handle: registry.handle, size };
}

export async function prepare(id, data) {
  const { op, size } = parse(id);
  const registry = StatsRegistry.attach(data.handle);
  const names = Array.from({ length: size }, (_, i) => name(i));
  let ok = 0;
  const report = () => ok;
  if (op === 'lookup-fresh') {
    const cache = registry.open;
    if (!(cache instanceof Map)) throw new Error(`${id}: the registry's per-thread cache is no longer a Map named \`open\`; update this case`);
    // A cache hit would return the object of this name's previous visit: require a new one.
    const last = new Array(size);
    let k = 0;
    return {
      run(n) {
        for (let i = 0; i < n; i++) {
          const nm = names[k];
          cache.delete(nm);
          const set = registry.counters(nm, FIELDS);
          if (set !== last[k]) ok++;
          last[k] = set;
          k = (k + STEP) % size;
        }
      },
      report,
    };
  }
  if (op === 'lookup-warm') {
    const opened = names.map((nm) => registry.counters(nm, FIELDS));
    let k = 0;
    return {
      run(n) {
        for (let i = 0; i < n; i++) {
          if (registry.counters(names[k], FIELDS) === opened[k]) ok++;
          k = (k + STEP) % size;
        }
      },
      report,
    };
  }
  if (op === 'entries') {
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (registry.entries().length === size) ok++;
      },
      report,
    };
  }
  if (op === 'usage') {
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (registry.usage().entries === size) ok++;
      },
      report,
    };
  }
  if (op === 'collect') {
    // Every call must return what the first call returned: as many families, and the
    // ok = 1 of every set summed over the samples.
    const sum = (families) => families.reduce((s, f) => s + f.samples.reduce((t, x) => t + (typeof x.value === 'number' ? x.value : 0), 0), 0);
    const first = registry.collect();
    const families = first.length;
    const total = sum(first);
    if (families < size) throw new Error(`${id}: collect() returned ${families} families for ${size} entries`);
    return {
      run(n) {
        for (let i = 0; i < n; i++) {
          const f = registry.collect();
          if (f.length === families && sum(f) === total) ok++;
        }
      },
      report,
    };
  }
  if (op === 'snapshot') {
    const set = registry.counters(name(0), FIELDS);
    return {
      run(n) {
        for (let i = 0; i < n; i++) if (set.snapshot().ok === 1) ok++;
      },
      report,
    };
  }
  throw new Error(`unknown case ${id}`);
}

export async function verify(id, data, totalOps, reports) {
  const { size } = parse(id);
  if (reports[0] !== totalOps) throw new Error(`${id}: ${reports[0]} of ${totalOps} calls returned the expected result`);
  const registry = StatsRegistry.attach(data.handle);
  const entries = registry.usage().entries;
  if (entries !== size) throw new Error(`${id}: the registry holds ${entries} entries, expected ${size}`);
  let ok = 0;
  for (let i = 0; i < size; i++) ok += registry.counters(name(i), FIELDS).counter('ok').value();
  if (ok !== size) throw new Error(`${id}: the sets' ok fields sum to ${ok}, expected ${size}`);
}
