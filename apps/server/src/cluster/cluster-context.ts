import type { Consumer, Producer } from 'kafkajs';
import type { EventStore } from '@parley/event-store';
import { restartWhenStopped } from '@parley/event-store';

export interface KafkaClusterConfig {
  brokers: string[];
  instanceId: string;
  /** `<prefix>.run-events` (the store's), `.commands`, `.replies`, `.tokens`; group `<prefix>-owners`. */
  prefix: string;
  store: EventStore;
  /** The event store's writers by partition: claimed (fencing the previous owner) when assigned. */
  writers: PartitionWriters;
  /** The event store's topic: the commands topic has as many partitions. */
  runEventsTopic: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** Also log the cluster's debug lines (PARLEY_KAFKA_DEBUG). */
  debug?: boolean;
}

/** Writes to the run-events topic by partition (the Kafka event store: `claim` fences at the broker). */
export interface PartitionWriters {
  claim(partitions: number[]): Promise<void>;
  release(partitions: number[]): Promise<void>;
  claimedPartitions(): number[];
  onFenced(listener: (partition: number) => void): () => void;
}

/** What the parts of the cluster share: its settings, its one producer, its identity on the wire. */
export interface ClusterContext {
  config: KafkaClusterConfig;
  /** Addresses replies and tags tokens: unique per process even if two instances were given one id. */
  nodeId: string;
  producer: Producer;
  closing: () => boolean;
  debug: (line: string) => void;
}

/** The retries of the cluster's consumers: kafkajs restarts them after a crash unless closing. */
export function consumerRetry(closing: () => boolean) {
  return { retries: 10, initialRetryTime: 300, maxRetryTime: 5000, restartOnFailure: async () => !closing() };
}

/** Run a consumer, and run it again whenever kafkajs stops it for good (see `restartWhenStopped`). */
export async function runKeptAlive(
  ctx: ClusterContext,
  consumer: Consumer,
  run: () => Promise<void>,
  name: string,
): Promise<void> {
  restartWhenStopped(
    consumer,
    async () => {
      await consumer.connect();
      await run();
    },
    { closing: ctx.closing, log: ctx.config.warn, name },
  );
  await run();
}

/** Run `fn`, ignoring its failure (closing). */
export async function quietly(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch {
    // closing
  }
}
