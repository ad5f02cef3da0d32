// The package's own vocabulary. The snapshot DTOs keep their historical keys
// (`rust_handler_dispatches`, `ffi_channel_drops`, ...), and nothing else says `rust` or
// `ffi`: not the names stored in shared memory, not the core's exports, not the public
// methods and options (each old name stays one minor version as a deprecated alias that
// does exactly what its new name does), not the code.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BroadcastReceiver,
  CircuitBreaker,
  CounterSet,
  EventBusStats,
  InProcessEventBus,
  InProcessEventBusBuilder,
  InvalidCountError,
  InvalidOptionsError,
  StatsRegistry,
  StepExecutionStats,
  WorkerEventSubscriber,
  WorkerSubscriberStats,
} from '../src/index.js';
import { coreModule } from '../src/wasm-module.js';
import { BACKENDS } from './helpers/backends.js';
import { testEvent } from './helpers/bus.js';
import { bytesOf } from './helpers/memory.js';
import { expectRejectedKeeping } from './helpers/metrics.js';

const LEAKED = /rust|ffi/i;

/** Deprecated name -> its new name, per public class. */
const METHOD_ALIASES = {
  EventBusStats: {
    recordRustDispatch: 'recordHandlerDispatch',
    recordFfiDispatch: 'recordBroadcastDispatch',
    recordFfiDrop: 'recordBroadcastDrop',
    recordFfiLagged: 'recordBroadcastLagged',
  },
  InProcessEventBusBuilder: { ffiChannelBufferSize: 'broadcastBufferSize' },
} as const;

const PUBLIC_CLASSES: Record<string, { prototype: object }> = {
  StatsRegistry,
  CounterSet,
  StepExecutionStats,
  EventBusStats,
  WorkerSubscriberStats,
  InProcessEventBus,
  InProcessEventBusBuilder,
  BroadcastReceiver,
  WorkerEventSubscriber,
  CircuitBreaker,
};

/** Every property name along a prototype chain, up to Object.prototype. */
function chainNames(proto: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  }
  return [...names];
}

describe('vocabulary', () => {
  it("the core's exports say neither rust nor ffi", () => {
    const names = WebAssembly.Module.exports(coreModule()).map((e) => e.name);
    expect(names).toContain('busPublishOwned');
    expect(names.filter((n) => LEAKED.test(n))).toEqual([]);
  });

  it('the field names an event bus stores in shared memory say neither (the DTO keeps its keys)', () => {
    const r = StatsRegistry.create();
    const bus = new InProcessEventBus({ registry: r, name: 'bus' });
    bus.publish(testEvent('e'));
    const entry = r.entries().find((e) => e.name === 'bus')!;
    const fields = entry.descriptor.fields as string[];
    expect(fields.length).toBeGreaterThan(7);
    expect(fields.filter((f) => LEAKED.test(f))).toEqual([]);
    // The snapshot is unchanged: the historical keys, read from the renamed cells.
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 1, rust_handler_dispatches: 0, ffi_channel_drops: 1 });
  });

  it('public methods and properties say neither, apart from the deprecated aliases', () => {
    const aliases: Record<string, readonly string[]> = {
      ...Object.fromEntries(Object.entries(METHOD_ALIASES).map(([cls, m]) => [cls, Object.keys(m)])),
      InProcessEventBus: ['ffiChannelBufferSize'],
    };
    for (const [name, cls] of Object.entries(PUBLIC_CLASSES)) {
      const leaked = chainNames(cls.prototype).filter((n) => LEAKED.test(n));
      expect(leaked.sort(), name).toEqual([...(aliases[name] ?? [])].sort());
    }
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus' });
    expect(Object.keys(bus).filter((n) => LEAKED.test(n))).toEqual([]);
  });

  it('each deprecated method is the very function of its new name', () => {
    for (const [cls, methods] of Object.entries(METHOD_ALIASES)) {
      const proto = PUBLIC_CLASSES[cls]!.prototype as Record<string, unknown>;
      for (const [old, now] of Object.entries(methods)) {
        expect(typeof proto[now], `${cls}.${now}`).toBe('function');
        expect(proto[old], `${cls}.${old}`).toBe(proto[now]);
        // Not enumerable, like the method it stands for.
        expect(Object.getOwnPropertyDescriptor(proto, old)?.enumerable).toBe(false);
      }
    }
  });

  it('src/ and assembly/ say neither, apart from the DTO keys, the deprecated names and the default failure text', () => {
    const dto = Object.keys(new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus' }).getStatistics()).filter((k) => LEAKED.test(k));
    expect(dto.length).toBe(9);
    const allowed = [
      ...dto,
      ...Object.values(METHOD_ALIASES).flatMap((m) => Object.keys(m)),
      'ffiChannelBufferSize',
      // The default failure message of a converted completion is data the package hands
      // to applications (as the DTO keys are), not a name of its own.
      'Step execution failed in FFI handler',
    ];
    const files = ['src', 'assembly'].flatMap((dir) =>
      (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith('generated')).map((f) => join(dir, f)),
    );
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const file of files) {
      let text = readFileSync(file, 'utf8');
      for (const word of allowed) text = text.split(word).join('');
      // Whole words and camelCase parts only: `trust`, `suffix`, `sufficient` are English.
      text.split('\n').forEach((line, i) => {
        if (/\b(rust|ffi)|Rust|Ffi|RUST|FFI/.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});

describe.each(BACKENDS)('deprecated aliases do exactly what their new names do (%s backend)', (backend) => {
  describe.each([true, false])('striped=%s', (striped) => {
    const pair = () => {
      const r = StatsRegistry.create({ backend });
      return { r, old: r.eventBusStats('old', { striped }), now: r.eventBusStats('now', { striped }) };
    };
    type Stats = Record<string, (...args: unknown[]) => void>;
    const as = (s: EventBusStats): Stats => s as unknown as Stats;
    const calls: [keyof typeof METHOD_ALIASES.EventBusStats, unknown[]][] = [
      ['recordRustDispatch', []],
      ['recordRustDispatch', [3]],
      ['recordRustDispatch', [2 ** 30]], // the shared cells' path
      ['recordRustDispatch', [Number.MAX_SAFE_INTEGER]],
      ['recordFfiDispatch', []],
      ['recordFfiDrop', []],
      ['recordFfiLagged', [7]],
      ['recordFfiLagged', [2 ** 40]],
    ];

    it.each(calls)('%s(%j)', (old, args) => {
      const { old: a, now: b } = pair();
      const now = METHOD_ALIASES.EventBusStats[old];
      as(a)[old]!(...args);
      as(b)[now]!(...args);
      expect(a.snapshotBigInt()).toEqual(b.snapshotBigInt());
      expect(Object.values(a.snapshotBigInt()).some((v) => typeof v === 'bigint' && v > 0n)).toBe(true);
    });

    it.each([-1, 1.5, Number.NaN, '3', 10n, null])('a bad count (%s) is refused alike by both names, changing nothing', (bad) => {
      for (const [old, now] of [
        ['recordRustDispatch', 'recordHandlerDispatch'],
        ['recordFfiLagged', 'recordBroadcastLagged'],
      ] as const) {
        const { r, old: a, now: b } = pair();
        const e1 = expectRejectedKeeping(() => bytesOf(r), () => as(a)[old]!(bad), InvalidCountError);
        const e2 = expectRejectedKeeping(() => bytesOf(r), () => as(b)[now]!(bad), InvalidCountError);
        expect(e1.message).toBe(e2.message);
      }
    });
  });

  describe('the bus option and builder', () => {
    // A receiver that reads nothing loses the oldest events beyond the buffer: the
    // buffer size is what decides how many it lost.
    const lagAfter = (bus: InProcessEventBus): number => {
      const slow = bus.subscribeBroadcast();
      for (let i = 0; i < 5; i++) bus.publish(testEvent('e', i));
      slow.close();
      return bus.getStatistics().ffi_channel_lagged;
    };

    it('ffiChannelBufferSize is broadcastBufferSize', () => {
      const registry = StatsRegistry.create({ backend });
      const old = new InProcessEventBus({ registry, name: 'old', ffiChannelBufferSize: 3 });
      const now = new InProcessEventBus({ registry, name: 'now', broadcastBufferSize: 3 });
      for (const bus of [old, now]) {
        expect([bus.broadcastBufferSize, bus.ffiChannelBufferSize]).toEqual([3, 3]);
        expect(lagAfter(bus)).toBe(2);
      }
      const built = InProcessEventBus.builder(registry, 'built').ffiChannelBufferSize(3).build();
      const builtNow = InProcessEventBus.builder(registry, 'builtNow').broadcastBufferSize(3).build();
      for (const bus of [built, builtNow]) {
        expect([bus.broadcastBufferSize, bus.ffiChannelBufferSize]).toEqual([3, 3]);
        expect(lagAfter(bus)).toBe(2);
      }
      const dflt = new InProcessEventBus({ registry, name: 'default' });
      expect([dflt.broadcastBufferSize, dflt.ffiChannelBufferSize]).toEqual([1000, 1000]);
    });

    it('a bad size is refused under the name it was given', () => {
      const r = StatsRegistry.create({ backend });
      for (const key of ['broadcastBufferSize', 'ffiChannelBufferSize']) {
        const e = expectRejectedKeeping(() => bytesOf(r), () => new InProcessEventBus({ registry: r, name: 'bus', [key]: 0 }), InvalidOptionsError);
        expect((e as InvalidOptionsError).option).toBe(key);
        expect(e.message).toBe(`${key}: must be an integer from 1 to 1048576, got 0`);
      }
    });

    it('both names at once are refused, changing nothing', () => {
      const r = StatsRegistry.create({ backend });
      for (const sizes of [
        [3, 3],
        [3, 4],
      ]) {
        const e = expectRejectedKeeping(
          () => bytesOf(r),
          () => new InProcessEventBus({ registry: r, name: 'bus', broadcastBufferSize: sizes[0], ffiChannelBufferSize: sizes[1] }),
          InvalidOptionsError,
        );
        expect((e as InvalidOptionsError).option).toBe('ffiChannelBufferSize');
        expect(e.message).toBe('ffiChannelBufferSize: is the deprecated name of broadcastBufferSize; give only broadcastBufferSize');
      }
      expect(r.entries()).toEqual([]);
    });
  });
});
