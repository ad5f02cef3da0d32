import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

// The metrics server thread (src/metrics-server-thread.ts) imports the package by its own
// name, so that it loads the files the application loads instead of a bundled second copy:
// its imports of './index.js' and './prometheus.js' become 'atomic-stats' and
// 'atomic-stats/prometheus', which Node resolves from inside the package ("exports"),
// in the thread's own module format.
const selfReference: Plugin = {
  name: 'atomic-stats-self-reference',
  setup(build) {
    build.onResolve({ filter: /^\.\/(index|prometheus)\.js$/ }, (args) => {
      if (!/[\\/]src[\\/]metrics-server-thread\.ts$/.test(args.importer)) return undefined;
      return { path: args.path === './index.js' ? 'atomic-stats' : 'atomic-stats/prometheus', external: true };
    });
  },
};

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    prometheus: 'src/prometheus.ts',
    opentelemetry: 'src/opentelemetry.ts',
    'metrics-server-thread': 'src/metrics-server-thread.ts',
  },
  // The adapters take the registry as an argument and import only types from the core,
  // plus stateless leaves (the error classes, whose instanceof works across copies by
  // their brand, and the options checks), so they never carry a second copy of its
  // state; their peers stay external.
  external: ['prom-client', '@opentelemetry/api', '@opentelemetry/sdk-metrics'],
  format: ['esm', 'cjs'],
  // The server thread is a script, not an entry point of the API: no declarations.
  dts: { entry: { index: 'src/index.ts', prometheus: 'src/prometheus.ts', opentelemetry: 'src/opentelemetry.ts' } },
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: false,
  // import.meta.url in the CommonJS build: serveMetrics finds its thread's file beside its
  // own module (and the file name of the same format), and the Prometheus adapter resolves
  // prom-client from its own file (src/prometheus.ts).
  shims: true,
  esbuildOptions(options, { format }) {
    options.define = { ...options.define, __ATOMIC_STATS_SERVER_THREAD__: JSON.stringify(`./metrics-server-thread.${format === 'cjs' ? 'cjs' : 'js'}`) };
  },
  esbuildPlugins: [selfReference],
  // Class names are part of the API (`err.name` is the error class's name): keep them
  // through the bundler's renaming of colliding identifiers.
  keepNames: true,
  treeshake: true,
});
