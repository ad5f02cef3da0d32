/*
 * Every kind of directory entry, in one table: the one file above all kinds. The façade
 * (registry.ts) hands this table to the registry core for every registry object it makes,
 * and from then on the core checks each record against the row its signature names
 * (signature.ts) and a collection runs the row's collector (export/collect.ts): neither
 * imports a kind. Each row is the descriptor its kind's module exports (kind.ts has the
 * type); the module also exports the `open` that the façade's method calls.
 *
 * Adding a kind touches:
 *   1. its own module, which exports its descriptor { name, code, dataBytes, collector }
 *      and its `open` (through `registry.openEntry(name, itsKind, ...)`);
 *   2. one row here;
 *   3. one method on StatsRegistry (registry.ts) that calls its `open`;
 *   4. one export of its public types from the package root (index.ts).
 * docs/how-it-works.md shows it with a worked example.
 *
 * A code is stored in every record of its kind in shared memory, so a code, once given,
 * is never changed or reused for another kind (test/structure.test.ts holds each to its
 * number); a record whose kind is not in the table (one a newer version wrote) is
 * reported and skipped by every listing, never guessed at.
 */
import { circuitBreakerKind } from './breaker/kind.js';
import { counterKind } from './kinds/counter.js';
import { gaugeKind } from './kinds/gauge.js';
import { histogramKind } from './kinds/histogram.js';
import { metricSeriesKind } from './kinds/series.js';
import { summaryKind } from './kinds/summary.js';
import type { KindTable } from './registry-core.js';
import { bulkheadKind, rateLimiterKind } from './resilience/index.js';
import { countersKind } from './sets/kind.js';
import { eventBusStatsKind } from './stats/event-bus-stats.js';
import { stepExecutionStatsKind } from './stats/step-execution-stats.js';
import { workerSubscriberStatsKind } from './stats/worker-subscriber-stats.js';
import { threadTableKind } from './threads/kind.js';

/** The kinds, in code order. */
export const KINDS: KindTable = Object.freeze([
  countersKind, // 1
  stepExecutionStatsKind, // 2
  eventBusStatsKind, // 3
  workerSubscriberStatsKind, // 4
  circuitBreakerKind, // 5
  counterKind, // 6
  gaugeKind, // 7
  histogramKind, // 8
  metricSeriesKind, // 9: one labelled series of a counter, gauge or histogram family (no longer written)
  bulkheadKind, // 10
  rateLimiterKind, // 11
  summaryKind, // 12
  threadTableKind, // 13: the registry's thread table (thread health)
]);
