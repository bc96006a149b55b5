import type { Kafka, Producer } from 'kafkajs';
import { kafkajs } from './kafkajs';

/**
 * The `transactional.id` of a partition's writer. Every instance uses the same id for the same
 * partition, so whoever claims it fences the one before (see `SendLane`). `prefix` defaults to the
 * topic: two deployments on one cluster with different topics never fence each other.
 */
export function transactionalIdOf(prefix: string, partition: number): string {
  return `${prefix}/p${partition}`;
}

/**
 * A transactional producer for one partition. Retries are quick: after each commit the broker
 * answers the next transaction's first request with CONCURRENT_TRANSACTIONS until it has written
 * the commit markers (a few ms), and kafkajs' default backoff (300 ms, doubling) would make every
 * append wait for it.
 */
export function partitionProducer(
  kafka: Kafka,
  transactionalId: string,
  transactionTimeoutMs: number,
): Producer {
  return kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: transactionTimeoutMs,
    allowAutoTopicCreation: false,
    createPartitioner: kafkajs().Partitioners.DefaultPartitioner, // the lane names the partition anyway
    // At most 25 ms between tries (about 1.5 s in all): a growing backoff would make a busy
    // partition's appends wait longer and longer for markers that take a few ms.
    retry: { retries: 60, initialRetryTime: 2, maxRetryTime: 25, factor: 0.2, multiplier: 1.3 },
  });
}

/** Kafka's answers to a producer whose epoch is no longer the id's (another instance claimed it). */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
const FENCED_CODES = new Set([47, 49, 90]);

/** The error (or one it wraps) says the broker fenced this producer. */
export function isFencedError(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as {
    type?: unknown;
    code?: unknown;
    cause?: unknown;
    originalError?: unknown;
    errors?: unknown;
  };
  if (typeof e.type === 'string' && FENCED_TYPES.has(e.type)) return true;
  if (typeof e.code === 'number' && FENCED_CODES.has(e.code)) return true;
  if (isFencedError(e.cause, depth + 1) || isFencedError(e.originalError, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => isFencedError(inner, depth + 1));
}
