export { InProcessEventBus, InProcessEventBusBuilder } from './event-bus.js';
export { BroadcastReceiver } from './receiver.js';
export { createDomainEvent } from './domain-event.js';
export { InvalidPatternError, InvalidEventError, HandlerFailedError, ReceiverClosedError } from './errors.js';
export type { DomainEvent, DomainEventInit, EventMetadata } from './domain-event.js';
export type { EventHandler } from './handler-table.js';
export type { HandlerFailureReason } from './errors.js';
export type { InProcessEventBusOptions, BusLogger } from './options.js';
export type { BroadcastReceiverHandle } from './broadcast.js';
