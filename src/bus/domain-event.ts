import { randomUUID } from 'node:crypto';

/** Metadata of a domain event: where it comes from, and what it belongs to. */
export interface EventMetadata {
  task_uuid: string;
  step_uuid?: string | null;
  step_name?: string | null;
  namespace: string;
  correlation_id: string;
  /** ISO-8601 timestamp. */
  fired_at: string;
  fired_by: string;
}

/**
 * A domain event: the shape `createDomainEvent()` builds and that handlers and receivers
 * are typed with. The bus itself needs only `event_name` (a string, dot notation, the
 * empty string allowed) and carries every other field as it is: `publish()` accepts any
 * object with a string `event_name`, and checks neither the other fields nor the payload's
 * type. Events crossing to a receiver in another thread are structured clones, so they must
 * be cloneable (JSON-like values are).
 */
export interface DomainEvent<P = unknown> {
  /** UUID. */
  event_id: string;
  event_name: string;
  event_version: string;
  payload: P;
  metadata: EventMetadata;
}

/** What `createDomainEvent()` takes: the name, the payload and the metadata; the rest is filled in. */
export interface DomainEventInit<P = unknown> {
  event_name: string;
  payload: P;
  metadata: Omit<EventMetadata, 'fired_at' | 'correlation_id'> & Partial<Pick<EventMetadata, 'fired_at' | 'correlation_id'>>;
  event_id?: string;
  event_version?: string;
}

/** Builds a DomainEvent, filling `event_id` (a random UUID), `event_version` ("1.0"), `fired_at` (now) and `correlation_id`. */
export function createDomainEvent<P>(init: DomainEventInit<P>): DomainEvent<P> {
  return {
    event_id: init.event_id ?? randomUUID(),
    event_name: init.event_name,
    event_version: init.event_version ?? '1.0',
    payload: init.payload,
    metadata: {
      ...init.metadata,
      correlation_id: init.metadata.correlation_id ?? randomUUID(),
      fired_at: init.metadata.fired_at ?? new Date().toISOString(),
    },
  };
}
