import type { Admin, PartitionMetadata } from 'kafkajs';

/** What production runs: three replicas of every partition, two of them in sync for a write. */
export const PRODUCTION_REPLICATION = { factor: 3, minInsync: 2 } as const;

/**
 * The replication a new topic gets: what is asked (default production's), but never more replicas
 * than the cluster has brokers (a development broker), and `min.insync.replicas` 2 where it can.
 */
export async function replicationFor(
  admin: Admin,
  asked: number = PRODUCTION_REPLICATION.factor,
): Promise<{ factor: number; minInsync: number; brokers: number }> {
  const brokers = (await admin.describeCluster()).brokers.length;
  const factor = Math.max(1, Math.min(asked, brokers));
  return { factor, minInsync: Math.min(PRODUCTION_REPLICATION.minInsync, factor), brokers };
}

/**
 * A warning for a topic that runs with less than production's replication (read from its
 * partitions and its `min.insync.replicas`), or undefined.
 */
export function replicationWarning(
  topic: string,
  partitions: PartitionMetadata[],
  minInsync: number | undefined,
): string | undefined {
  const factor = Math.min(...partitions.map((p) => p.replicas.length));
  if (!Number.isFinite(factor)) return undefined;
  if (factor >= PRODUCTION_REPLICATION.factor && (minInsync ?? 1) >= PRODUCTION_REPLICATION.minInsync)
    return undefined;
  return (
    `WARNING: topic ${topic} runs with replication factor ${factor} and min.insync.replicas ${minInsync ?? '?'}: ` +
    `an acknowledged event can be lost with one broker's disk. Production: 3 brokers, replication factor ` +
    `${PRODUCTION_REPLICATION.factor}, min.insync.replicas ${PRODUCTION_REPLICATION.minInsync} (docs/KAFKA.md)`
  );
}

/** A topic's `min.insync.replicas`, if the brokers say. */
export async function minInsyncOf(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['min.insync.replicas'] }],
    });
    const value = resources[0]?.configEntries.find(
      (c) => c.configName === 'min.insync.replicas',
    )?.configValue;
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}
