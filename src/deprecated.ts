/*
 * Deprecated names. A public name that is replaced stays for one minor version as an
 * alias, and an alias must do exactly what its new name does: so it is not a wrapper (a
 * second body that could drift, and a frame more on the stack) but the very same function,
 * defined under the old name with the new one's property descriptor (non-enumerable, like
 * any class method). The class declares the old name with `@deprecated`, so editors strike
 * it through and point at the new one; CHANGELOG.md lists each under "Deprecated".
 */

/** Defines each `old: now` pair of `names` on `proto`: `proto[old]` becomes `proto[now]` itself. */
export function defineAliases(proto: object, names: Readonly<Record<string, string>>): void {
  for (const [old, now] of Object.entries(names)) {
    const d = Object.getOwnPropertyDescriptor(proto, now);
    if (d === undefined || typeof d.value !== 'function') throw new TypeError(`no method ${now} to alias as ${old}`);
    Object.defineProperty(proto, old, d);
  }
}
