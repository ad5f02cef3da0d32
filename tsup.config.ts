import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', prometheus: 'src/prometheus.ts', opentelemetry: 'src/opentelemetry.ts' },
  // The adapters import only types from the core and take the registry as an argument,
  // so they never carry a second copy of it; their peers stay external.
  external: ['prom-client', '@opentelemetry/api'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
});
