import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', prometheus: 'src/prometheus.ts', opentelemetry: 'src/opentelemetry.ts' },
  // The adapters take the registry as an argument and import only types from the core,
  // plus stateless leaves (the error classes, whose instanceof works across copies by
  // their brand, and the options checks), so they never carry a second copy of its
  // state; their peers stay external.
  external: ['prom-client', '@opentelemetry/api', '@opentelemetry/sdk-metrics'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: false,
  // Class names are part of the API (`err.name` is the error class's name): keep them
  // through the bundler's renaming of colliding identifiers.
  keepNames: true,
  // import.meta.url in the CommonJS build (the Prometheus adapter resolves prom-client
  // from its own file, see src/prometheus.ts).
  shims: true,
  treeshake: true,
});
