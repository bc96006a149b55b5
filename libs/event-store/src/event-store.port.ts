import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';

export interface ReadOptions {
  /** First seq to return (1-based, inclusive). Default 1. */
  fromSeq?: number;
}

export interface ReadAllOptions {
  /** Return events with a global position strictly greater than this. Default 0 (from the start). */
  afterPosition?: number;
  limit?: number;
}

export interface StreamHead {
  seq: number;
  hash: string;
}

/** What `/health` and the refusal of new work say about the event log. */
export interface EventLogReachability {
  kind: 'sqlite' | 'kafka';
  /** False from the first failed round-trip to the brokers until the next successful one. */
  reachable: boolean;
  /** When `reachable` last changed (ISO time; the start-up time if it never did). */
  since: string;
  /** The failure that made (or keeps) the log unreachable: `<source>: <message>`. */
  lastError?: string;
  /** Last successful round-trip (probe or produce), ISO time. */
  lastOkAt?: string;
  /** How many times the log became unreachable since start-up. */
  outages: number;
  /** Kafka: producers replaced after a send with an unknown outcome (see KafkaEventStore's send lane). */
  producersRetired?: number;
}

export interface ReachabilityChange {
  reachable: boolean;
  /** For a recovery: how long the log was unreachable. */
  downMs?: number;
  error?: string;
}

export type EventListener = (stored: StoredEvent) => void;

export interface Subscription {
  /** Resolves once the catch-up from the log is delivered and live delivery has begun. */
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * The event log: append-only streams, one per run, and a global order for projections.
 * Two adapters implement it (SQLite, Kafka) and one contract suite tests both.
 */
export interface EventStore {
  readonly kind: 'sqlite' | 'kafka';
  /**
   * Append atomically after `expectedSeq` (0 for a new stream). A stale `expectedSeq` raises a
   * ConcurrencyError and writes nothing. Returns the sealed envelopes as stored.
   *
   * Idempotent by event id (`checkEventIds`): when every event carries an id already stored in the
   * run, with the same type, actor and data, in the same order, the stored envelopes are returned
   * and nothing is written, whatever `expectedSeq`; an id stored with other content, or a batch
   * only partly stored, raises `EVENT_STORE.EVENT_ID_CONFLICT` and writes nothing.
   */
  append(runId: string, expectedSeq: number, events: NewEvent[]): Promise<EventEnvelope[]>;
  read(runId: string, options?: ReadOptions): Promise<EventEnvelope[]>;
  /** Stream a run's events in seq order without holding the whole stream in memory. */
  stream(runId: string, options?: ReadOptions): AsyncIterable<EventEnvelope>;
  head(runId: string): Promise<StreamHead | undefined>;
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** The global position of the latest stored event (0 when empty). */
  lastPosition(): Promise<number>;
  /** Deliver every event after `afterPosition`, in global order, then each new one as it is stored. */
  subscribe(afterPosition: number, listener: EventListener): Subscription;
  /**
   * Store events that already carry their seq and hashes (import of an exported log, a fork's
   * prefix). The stream must be new; the chain is verified before anything is written.
   */
  importStream(runId: string, events: EventEnvelope[]): Promise<void>;
  /**
   * Resolves once this instance's reads include every event the log held when it was called (Kafka:
   * the topic's high watermarks, other instances' writes included). SQLite is its own log: at once.
   */
  waitForCatchUp(timeoutMs?: number): Promise<void>;
  /** Whether the log answers, for `/health`. SQLite is in-process: always reachable. */
  reachabilityStatus(): EventLogReachability;
  /**
   * Throws 503 `EVENT_LOG.UNAVAILABLE` while the log is unreachable: new work is refused at once,
   * nothing is written. Never throws with SQLite.
   */
  assertReachable(): void;
  /** Called when the log becomes unreachable or reachable again; returns an unsubscribe. */
  onReachabilityChange(listener: (change: ReachabilityChange) => void): () => void;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EVENT_STORE');
