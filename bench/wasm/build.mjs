// Compiles bench/wasm/baselines.ts into baselines.wasm when the .wasm is missing or
// older than its source (npm run bench:wasm forces it). Bench-only: nothing here ships.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('./baselines.ts', import.meta.url));
const out = fileURLToPath(new URL('./baselines.wasm', import.meta.url));
const asc = fileURLToPath(new URL('../../node_modules/assemblyscript/bin/asc.js', import.meta.url));

export function buildBaselines(force = false) {
  if (!force && existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  execFileSync(
    process.execPath,
    [asc, src, '-o', out, '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
      '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '1', '--enable', 'threads'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built ${buildBaselines(true)}`);
