// Worker side of test/adversarial.test.ts: a thread that attacks a registry's memory, or
// reads it after an attack, and reports what happened. Started with a small heap and a
// deadline, so a regression shows as a failed test rather than a dead test process.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
// Collected instead of printed: each corrupt record warns once.
const warnings = [];
process.emitWarning = (w) => warnings.push(String(w));

const HEADER = 64;
const R_NAME_LEN = 8;
const R_SIG_LEN = 12;
const R_DATA = 16;

function slots(i32) {
  // The directory size the creator wrote, read straight from the header (the attacker's
  // view; the library itself never re-reads it).
  return i32[7];
}

function read(registry) {
  const entries = registry.entries().length;
  const families = registry.collect();
  const usage = registry.usage();
  return { entries, familyCount: families.length, gaugeEntries: families[0].samples[0].value, usage };
}

function attempt(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    return { error: e?.code ?? String(e), message: String(e?.message ?? e) };
  }
}

let result;
switch (d.mode) {
  case 'name-lengths': {
    // Write 0x7fffffff into the name-length word of every record, then scrape.
    const i32 = new Int32Array(d.handle.memory.buffer);
    let hit = 0;
    for (let k = 0; k < slots(i32); k++) {
      const p = i32[HEADER / 4 + k];
      if (p !== 0) {
        i32[(p + R_NAME_LEN) >>> 2] = 0x7fffffff;
        hit++;
      }
    }
    const registry = StatsRegistry.attach(d.handle);
    result = { hit, ...read(registry), again: read(registry), warnings: warnings.length, warningText: warnings[0] };
    break;
  }
  case 'signature-garbage': {
    const i32 = new Int32Array(d.handle.memory.buffer);
    const u8 = new Uint8Array(d.handle.memory.buffer);
    let hit = 0;
    for (let k = 0; k < slots(i32); k++) {
      const p = i32[HEADER / 4 + k];
      if (p === 0 || hit >= d.count) continue;
      const at = p + 32 + i32[(p + R_NAME_LEN) >>> 2];
      u8.fill(0x5b, at, at + i32[(p + R_SIG_LEN) >>> 2]); // '[[[[...'
      hit++;
    }
    const registry = StatsRegistry.attach(d.handle);
    result = { hit, ...read(registry), warnings: warnings.length };
    break;
  }
  case 'data-offset-into-header': {
    const i32 = new Int32Array(d.handle.memory.buffer);
    for (let k = 0; k < slots(i32); k++) {
      const p = i32[HEADER / 4 + k];
      if (p !== 0) i32[(p + R_DATA) >>> 2] = 0;
    }
    result = { done: true };
    break;
  }
  case 'hammer': {
    const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
    const c = registry.counters(d.name, ['a', 'b'], { striped: d.striped }).counter('a');
    for (let i = 0; i < d.iterations; i++) c.inc();
    result = { slot: registry.slot };
    break;
  }
  case 'attach': {
    result = attempt(() => {
      const r = StatsRegistry.attach(d.handle, { backend: d.backend });
      return r.entries().length;
    });
    break;
  }
  case 'fuzz-writer': {
    // Random words into the directory and the records, until told to stop.
    const i32 = new Int32Array(d.handle.memory.buffer);
    const stop = new Int32Array(d.stop);
    let seed = d.seed >>> 0;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const lo = HEADER / 4;
    const hi = d.usedBytes >>> 2;
    const values = [0, -1, 0x7fffffff, 0x80000000, 64, 128, d.usedBytes, 4, 1];
    let writes = 0;
    while (Atomics.load(stop, 0) === 0) {
      const at = lo + (rand() % (hi - lo));
      const r = rand();
      i32[at] = r & 1 ? values[r % values.length] : rand();
      if (++writes % 64 === 0) i32[5] = rand(); // the bump pointer too
      // The reader starts its rounds once the memory is under attack (stop[1]): a reader
      // that finished before this thread had started would have tested nothing.
      if (writes === 64) {
        Atomics.store(stop, 1, 1);
        Atomics.notify(stop, 1);
      }
    }
    result = { writes };
    break;
  }
  case 'fuzz-reader': {
    const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
    const stop = new Int32Array(d.stop);
    const errors = [];
    while (Atomics.load(stop, 1) === 0) Atomics.wait(stop, 1, 0, 50);
    for (let round = 0; round < d.rounds; round++) {
      for (const step of ['entries', 'collect', 'usage', 'open']) {
        try {
          if (step === 'entries') registry.entries();
          else if (step === 'collect') registry.collect();
          else if (step === 'usage') registry.usage();
          // Opening by name may meet a corrupt record (a typed error) but nothing else.
          else registry.counters(`set${round % d.sets}`, ['a', 'b']);
        } catch (e) {
          const typed = typeof e?.code === 'string' && e.code.startsWith('ERR_');
          if (!typed || step !== 'open') errors.push(`${step}: ${e?.stack ?? e}`);
        }
      }
    }
    Atomics.store(stop, 0, 1);
    result = { rounds: d.rounds, errors: errors.slice(0, 5), errorCount: errors.length, corrupt: registry.usage().corruptRecords };
    break;
  }
  default:
    throw new Error(`unknown mode ${d.mode}`);
}
parentPort.postMessage(result);
