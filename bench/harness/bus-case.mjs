// The event-bus publish the cases measure (the components table, the physics table, the
// thread-scaling table): one event shape, and a bus with one wildcard-matched synchronous
// handler that counts what it saw, so that verify() can check every publish ran it.
import { InProcessEventBus } from '../../dist/index.js';

export const EVENT = {
  event_id: '00000000-0000-4000-8000-000000000000',
  event_name: 'order.created',
  event_version: '1.0',
  payload: { amount: 1 },
  metadata: { task_uuid: 't', namespace: 'bench', correlation_id: 'c', fired_at: '1970-01-01T00:00:00.000Z', fired_by: 'bench' },
};

/** `run(n)` publishes EVENT n times on a new bus of `registry`; `report()` is how many the handler saw. */
export function publishCase(registry, name, recordStats = true) {
  let handled = 0;
  const bus = new InProcessEventBus({ registry, name, recordStats });
  bus.subscribe('order.*', () => {
    handled++;
  });
  return {
    run(n) {
      for (let i = 0; i < n; i++) bus.publish(EVENT);
    },
    report: () => handled,
  };
}
