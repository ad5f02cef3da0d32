// The one Wasm module of atomic-stats. See counters.ts for the memory rules every export
// follows (host-laid-out addresses, no static data, no heap).
export * from './counters';
export * from './breaker';
export * from './stats';
export * from './gauges';
export * from './histogram';
