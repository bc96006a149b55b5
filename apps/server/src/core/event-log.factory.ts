import { join } from 'node:path';
import type { EventStore } from '@parley/event-store';
import { KafkaEventStore, SqliteEventStore } from '@parley/event-store';
import { ConfigError, type ParleyConfig } from '../config/config';

/** The topic of the Kafka event log: the source of truth, `<prefix>.run-events`. */
export function runEventsTopic(prefix: string): string {
  return `${prefix}.run-events`;
}

/** The anchor stream of a Kafka cluster: the signed heads of its runs, `<prefix>.anchors`. */
export function anchorsTopic(prefix: string): string {
  return `${prefix}.anchors`;
}

/**
 * The event log is configuration: `PARLEY_EVENT_LOG=sqlite|kafka`. SQLite: `logCheck` is the check
 * of the log begun in a worker (`checkLogInWorker`); the store opens when it has passed, unchecked
 * again. Without it the store checks the log itself as it opens.
 */
export async function openEventLog(
  config: ParleyConfig,
  log: (line: string) => void,
  logCheck?: Promise<void>,
): Promise<EventStore> {
  if (config.eventLog === 'sqlite') {
    if (logCheck) await logCheck; // EVENT_STORE.DAMAGED: refused, as the store's own check would
    return new SqliteEventStore({
      dataDir: config.dataDir,
      synchronous: config.sqliteSync,
      checkedAlready: !!logCheck,
    });
  }
  try {
    return await KafkaEventStore.open({
      brokers: config.kafkaBrokers,
      clientId: config.instanceId,
      partitions: config.kafkaPartitions,
      replicationFactor: config.kafkaReplicationFactor,
      topic: runEventsTopic(config.kafkaTopicPrefix),
      localDir: join(config.dataDir, `kafka-local-${config.instanceId}`),
      log,
      debug: config.kafkaDebug,
      // The owners' group hands out the partitions to write (KafkaCluster): a claim fences the previous owner.
      writes: 'claimed',
      // A transaction left open by a paused owner is aborted by the next owner's claim; this bounds it otherwise.
      transactionTimeoutMs: Math.max(60_000, 3 * config.kafkaSessionTimeoutMs),
    });
  } catch (error) {
    throw new ConfigError(
      'KAFKA_BROKERS',
      `cannot use the Kafka event log at ${config.kafkaBrokers.join(',')}: ${(error as Error).message}`,
    );
  }
}
