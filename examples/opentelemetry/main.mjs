// The OpenTelemetry SDK reading the shared registry of a worker pool: worker threads count
// orders and time checkouts, the main thread's MeterProvider exports every thread's totals
// through a PeriodicExportingMetricReader, without asking any worker for anything. The
// exporter here keeps what it is given in memory (InMemoryMetricExporter) so that the example
// can print it; use an OTLP exporter in a service. Run with
// `node examples/opentelemetry/main.mjs` after a build.
import { Worker } from 'node:worker_threads';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { StatsRegistry } from 'atomic-stats';
import { atomicStatsMetricProducer, observeAtomicStats } from 'atomic-stats/opentelemetry';
import { CHECKOUT, ORDERS } from './metrics.mjs';

const registry = StatsRegistry.create();
// Defined before observing, so the first collection already has their instruments.
registry.counter(ORDERS);
registry.histogram(CHECKOUT);

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter,
  exportIntervalMillis: 50,
  exportTimeoutMillis: 40,
  // Histograms: the OpenTelemetry API has no observable histogram, so a MetricProducer
  // hands them to the SDK's reader directly, in the temporality the exporter selects.
  metricProducers: [atomicStatsMetricProducer(registry, { temporality: exporter })],
});
const provider = new MeterProvider({ readers: [reader] });
// Counters and gauges: observable instruments of a Meter, one batch callback per collection.
observeAtomicStats(registry, provider.getMeter('checkout-service'));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function exports(count) {
  for (const end = Date.now() + 20_000; exporter.getMetrics().length < count && Date.now() < end; ) await sleep(5);
  return exporter.getMetrics();
}

/** One line per data point: scope, instrument, its type and unit, attributes, value. */
function print(title, resourceMetrics) {
  console.log(title);
  const lines = [];
  for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
    for (const { descriptor, dataPoints } of metrics) {
      // The registry's own families (memory in use, stripes) depend on the machine.
      if (descriptor.name.startsWith('atomic_stats_registry_')) continue;
      for (const { attributes, value } of dataPoints) {
        const v = typeof value === 'number' ? value : `buckets ${JSON.stringify(value.buckets)} sum ${value.sum} count ${value.count}`;
        lines.push(`  ${scope.name} ${descriptor.name} (${descriptor.unit}) ${JSON.stringify(attributes)} ${v}`);
      }
    }
  }
  for (const line of lines.sort()) console.log(line);
}

// The reader's first periodic export, before any work.
print('before:', (await exports(1))[0]);

const workers = ['eu', 'us', 'eu'].map(
  (region) => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { handle: registry.handle, region } }),
);
await Promise.all(workers.map((w) => new Promise((resolve) => w.on('exit', resolve))));

// A periodic export made after every worker has exited (its collection began after the
// one that may have been under way when they did).
const done = exporter.getMetrics().length;
print('after:', (await exports(done + 2)).at(-1));
await provider.shutdown();
