import type { PartitionMetadata } from 'kafkajs';
import { kafkajs } from '@parley/event-store';
import { v5 as uuidV5 } from 'uuid';

/**
 * Which runs this instance may drive and take commands for. With SQLite (one instance) every run
 * is ours; with Kafka, the runs whose partition the owners' consumer group assigned to us.
 */
export interface Ownership {
  readonly mode: 'local' | 'kafka';
  /** This instance owns the run now (and has caught up with its log): it may write it. */
  owns(runId: string): boolean;
  /** Called after this instance gained runs (an assignment, caught up); returns an unsubscribe. */
  onGained(listener: () => void): () => void;
}

/** One instance owns everything (SQLite mode). */
export class LocalOwnership implements Ownership {
  readonly mode = 'local' as const;
  owns(): boolean {
    return true;
  }
  onGained(): () => void {
    return () => undefined;
  }
}

/** Kafka's default partitioner, made on first use (kafkajs is not loaded by a server on SQLite). */
let partitioner: ReturnType<ReturnType<typeof kafkajs>['Partitioners']['DefaultPartitioner']> | undefined;
const metadataCache = new Map<number, PartitionMetadata[]>();

/**
 * The partition Kafka's default (Java-compatible murmur2) partitioner picks for `key` among
 * `partitions`: the same function the producers use, so `partitionOf(runId)` is where the run's
 * events and commands live.
 */
export function partitionOf(key: string, partitions: number): number {
  let metadata = metadataCache.get(partitions);
  if (!metadata) {
    metadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    metadataCache.set(partitions, metadata);
  }
  partitioner ??= kafkajs().Partitioners.DefaultPartitioner();
  return partitioner({ topic: 'parley', partitionMetadata: metadata, message: { key, value: null } });
}

/** RFC 9562 name-based UUID (version 5, SHA-1). */
export { uuidV5 };

/** Parley's namespace for run ids derived from idempotency keys. */
const RUN_ID_NAMESPACE = '6f2b7c1e-3d4a-5b6c-8d7e-9f0a1b2c3d4e';

/**
 * The run id of a start with an idempotency key: the same human and key always name the same run,
 * hence the same partition and owner, wherever the request arrives.
 */
export function runIdForIdempotencyKey(requester: string, key: string): string {
  // As UTF-8 bytes: uuid's string path throws on a lone surrogate (a key is any JSON string), while
  // Buffer.from writes it as U+FFFD, as the hash did before.
  return uuidV5(Buffer.from(`${requester}\u0000${key}`, 'utf8'), RUN_ID_NAMESPACE);
}
