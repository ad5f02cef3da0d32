import type { BackendKind } from '../../src/index.js';

/** The three backends: every behaviour is tested on each, and concurrency claims on each with real threads. */
export const BACKENDS = ['auto', 'wasm', 'js'] as const satisfies readonly BackendKind[];
