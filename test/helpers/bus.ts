import type { DomainEvent } from '../../src/index.js';

let seq = 0;

/** A domain event of the original shape. */
export function testEvent(eventName: string, payload: unknown = {}): DomainEvent {
  seq++;
  return {
    event_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    event_name: eventName,
    event_version: '1.0',
    payload,
    metadata: {
      task_uuid: '11111111-1111-4111-8111-111111111111',
      step_uuid: '22222222-2222-4222-8222-222222222222',
      step_name: 'test_step',
      namespace: 'test',
      correlation_id: '33333333-3333-4333-8333-333333333333',
      fired_at: new Date(0).toISOString(),
      fired_by: 'test',
    },
  };
}

/** A logger that remembers what it was told. */
export function recordingLogger() {
  const calls: { message: string; details: Record<string, unknown> }[] = [];
  return { calls, warn: (message: string, details: Record<string, unknown>) => void calls.push({ message, details }) };
}
