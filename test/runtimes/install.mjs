// The runtimes the cross-runtime suite runs on, installed from the npm registry on demand.
//
// Versions are pinned in runtimes.json (one entry per runtime: its kind and exact
// version); nothing else names a version. Each one is the registry's package of the
// official binary for this platform (node-<platform>-<arch>, @oven/bun-<platform>-<arch>,
// @deno/<platform>-<arch>), fetched with `npm pack` (so npm's registry config, cache and
// integrity check apply) and unpacked into a cache folder outside the repository:
//
//   ${ATOMIC_STATS_RUNTIMES_DIR:-${XDG_CACHE_HOME:-~/.cache}/atomic-stats-runtimes}/<name>-<version>/
//
// A folder is complete once it holds the binary and the binary reports the pinned
// version; a partial one (an interrupted unpack) is replaced. Unpacking goes to a
// temporary sibling that is renamed into place, so two installers never see half a folder.
//
//   node test/runtimes/install.mjs [name...]    installs (all when no name), prints the paths
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PINS_FILE = fileURLToPath(new URL('./runtimes.json', import.meta.url));
export const KINDS = ['node', 'bun', 'deno'];

/** The pinned runtimes, checked: { name: { kind, version } }, in file order. */
export function readPins(text = readFileSync(PINS_FILE, 'utf8')) {
  const pins = JSON.parse(text);
  if (pins === null || typeof pins !== 'object' || Array.isArray(pins)) throw new Error('runtimes.json: expected an object of runtimes');
  for (const [name, pin] of Object.entries(pins)) {
    if (!/^[a-z][a-z0-9]*$/.test(name)) throw new Error(`runtimes.json: "${name}" is not a runtime name (lower-case letters and digits)`);
    if (!KINDS.includes(pin?.kind)) throw new Error(`runtimes.json: ${name}.kind must be one of ${KINDS.join(', ')}`);
    if (typeof pin.version !== 'string' || !/^\d+\.\d+\.\d+$/.test(pin.version)) throw new Error(`runtimes.json: ${name}.version must be an exact version (x.y.z)`);
    if (pin.kind === 'node' && name !== `node${pin.version.split('.')[0]}`) throw new Error(`runtimes.json: a Node runtime is named node<major>: ${name} pins ${pin.version}`);
    if (pin.kind !== 'node' && name !== pin.kind) throw new Error(`runtimes.json: the ${pin.kind} runtime is named ${pin.kind}, not ${name}`);
  }
  return pins;
}

/** The registry package holding `kind`'s binary for this platform, and the binary's path inside it. */
export function binaryPackage(kind, platform = process.platform, arch = process.arch) {
  const cpu = { x64: 'x64', arm64: 'arm64' }[arch];
  if (!cpu || !['linux', 'darwin'].includes(platform)) throw new Error(`runtimes: no ${kind} package is known for ${platform}-${arch}`);
  switch (kind) {
    case 'node':
      return { pkg: `node-${platform}-${cpu}`, bin: 'bin/node' };
    case 'bun':
      return { pkg: `@oven/bun-${platform}-${cpu === 'arm64' ? 'aarch64' : cpu}`, bin: 'bin/bun' };
    case 'deno':
      return { pkg: `@deno/${platform}-${cpu}${platform === 'linux' ? '-glibc' : ''}`, bin: 'deno' };
    default:
      throw new Error(`runtimes: unknown kind ${kind}`);
  }
}

export function cacheRoot(env = process.env) {
  if (env.ATOMIC_STATS_RUNTIMES_DIR) return env.ATOMIC_STATS_RUNTIMES_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'atomic-stats-runtimes');
}

/** The version a runtime binary reports, as x.y.z (undefined when it does not run). */
export function reportedVersion(kind, exe) {
  try {
    const out = execFileSync(exe, kind === 'deno' ? ['--version'] : ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return /(\d+\.\d+\.\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The executable of runtime `name`, installing it first when the cache does not hold it.
 * Returns { name, kind, version, exe, installed } (installed: whether this call fetched it).
 */
export function ensureRuntime(name, { pins = readPins(), log = () => {} } = {}) {
  const pin = pins[name];
  if (!pin) throw new Error(`runtimes: no runtime "${name}" in runtimes.json (known: ${Object.keys(pins).join(', ')})`);
  const { pkg, bin } = binaryPackage(pin.kind);
  const root = cacheRoot();
  const dir = join(root, `${name}-${pin.version}`);
  const exe = join(dir, bin);
  if (existsSync(exe) && reportedVersion(pin.kind, exe) === pin.version) return { name, ...pin, exe, installed: false };
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(join(root, `.${name}-`));
  try {
    log(`installing ${name}: ${pkg}@${pin.version} into ${dir}`);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', `${pkg}@${pin.version}`, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }),
    );
    const tarball = join(tmp, packed[0].filename);
    const unpacked = join(tmp, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], { stdio: 'inherit' });
    rmSync(tarball);
    const got = reportedVersion(pin.kind, join(unpacked, bin));
    if (got !== pin.version) throw new Error(`runtimes: ${pkg}@${pin.version} unpacked, but its ${bin} reports ${got ?? 'nothing (it does not run here)'}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name, ...pin, exe, installed: true };
}

/** Removes cached versions of the pinned runtimes other than the pinned ones (the folder grows by ~100 MB per bump otherwise). */
export function pruneCache(pins = readPins()) {
  const root = cacheRoot();
  if (!existsSync(root)) return [];
  const keep = new Set(Object.entries(pins).map(([name, p]) => `${name}-${p.version}`));
  const removed = [];
  for (const entry of readdirSync(root)) {
    const m = /^([a-z][a-z0-9]*)-\d+\.\d+\.\d+$/.exec(entry);
    if (m && m[1] in pins && !keep.has(entry)) {
      rmSync(join(root, entry), { recursive: true, force: true });
      removed.push(entry);
    }
  }
  return removed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const pins = readPins();
  const names = process.argv.slice(2);
  for (const name of names.length ? names : Object.keys(pins)) {
    const r = ensureRuntime(name, { pins, log: (l) => console.error(l) });
    console.log(`${name}\t${r.version}\t${r.exe}`);
  }
}
