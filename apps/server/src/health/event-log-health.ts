import type { EventLogReachability, EventStore, KafkaEventStore } from '@parley/event-store';

const startedAt = new Date().toISOString();

/** The event log's reachability for `/health`: SQLite is in-process (always reachable); Kafka says what it saw. */
export function eventLogReachability(
  store: EventStore,
): EventLogReachability & { producersRetired?: number } {
  if (store.kind === 'kafka') return (store as KafkaEventStore).reachabilityStatus();
  return { kind: 'sqlite', reachable: true, since: startedAt, outages: 0 };
}

/** Throws 503 `EVENT_LOG.UNAVAILABLE` while the Kafka brokers are unreachable (never with SQLite). */
export function assertEventLogReachable(store: EventStore): void {
  if (store.kind === 'kafka') (store as KafkaEventStore).assertReachable();
}
