import type { Admin, Kafka } from 'kafkajs';
import { kafkajs } from './kafkajs';
import { ParleyError } from '@parley/contracts';
import { ensureTopics } from './kafka-topics.mjs';
import { minInsyncOf, replicationFor, replicationWarning } from './replication';
import type { StoreLog } from './store-log';

export interface TopicSettings {
  brokers: string[];
  topic: string;
  /** Used only when the topic is created. */
  partitions: number;
  /** Used only when the topic is created (at most the cluster's brokers). */
  replicationFactor: number;
}

/**
 * The run-events topic through the admin client: reaching the brokers at open, creating the topic (or
 * checking an existing one), the partition of a run, the high watermarks, and leaving at close.
 */
export class RunEventsTopicAdmin {
  private readonly admin: Admin;
  private connected = false;
  /** While the topic is created, its partitions answer NOT_LEADER for a moment: not worth a log line. */
  creating = false;
  /** The kafkajs default partitioner (murmur2 of the key, as Java clients), called once per append. */
  private readonly partitioner = kafkajs().Partitioners.DefaultPartitioner();
  /** The topic's partitions (from its metadata at open): `partitionOf(runId)`. */
  private partitionMetadata: Array<{ partitionId: number; leader: number }> = [];

  constructor(
    kafka: Kafka,
    private readonly settings: TopicSettings,
    private readonly out: StoreLog,
    private readonly closing: () => boolean,
  ) {
    this.admin = kafka.admin();
  }

  async connect(timeoutMs: number): Promise<void> {
    const brokers = this.settings.brokers.join(',');
    let timer: NodeJS.Timeout | undefined;
    const attempt = (async () => {
      await this.admin.connect();
      await this.admin.describeCluster();
    })();
    attempt.catch(() => undefined); // it may settle after the deadline
    try {
      await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.connected = true;
    } catch (error) {
      throw new ParleyError(
        'EVENT_STORE.KAFKA_UNREACHABLE',
        `Cannot reach the Kafka brokers ${brokers} within ${timeoutMs / 1000} s: ${(error as Error).message}. ` +
          'Check KAFKA_BROKERS (comma-separated host:port) and that a broker is running there (npm run kafka:start).',
        'unavailable',
        undefined,
        { brokers: this.settings.brokers },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Create the topic if it is missing (kept forever: it is the source of truth), and wait until it serves. */
  async ensure(): Promise<void> {
    const { topic, partitions: numPartitions } = this.settings;
    this.creating = true;
    try {
      const replication = await replicationFor(this.admin, this.settings.replicationFactor);
      const { created, partitions } = await ensureTopics(this.admin, [
        {
          topic,
          numPartitions,
          replicationFactor: replication.factor,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'retention.ms', value: '-1' }, // the log is the source of truth: keep it forever
            { name: 'retention.bytes', value: '-1' },
            { name: 'min.insync.replicas', value: String(replication.minInsync) },
          ],
        },
      ]);
      const found = partitions.get(topic) ?? [];
      if (!created.includes(topic)) await this.checkExisting(found.length, numPartitions);
      this.partitionMetadata = found.map((p) => ({ partitionId: p.partitionId, leader: p.leader }));
      const warning = replicationWarning(topic, found, await minInsyncOf(this.admin, topic));
      if (warning) this.out.emit(`[kafka-event-store] ${warning}`);
    } finally {
      this.creating = false;
    }
  }

  /** An existing topic is used as it is; say so when its settings could lose or misplace events. */
  private async checkExisting(actualPartitions: number, numPartitions: number): Promise<void> {
    const { topic } = this.settings;
    if (actualPartitions !== numPartitions) {
      this.out.debug(
        `topic ${topic} exists with ${actualPartitions} partitions (config asks ${numPartitions}); using it as is`,
      );
    }
    try {
      const { resources } = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: kafkajs().ConfigResourceTypes.TOPIC,
            name: topic,
            configNames: ['cleanup.policy', 'retention.ms'],
          },
        ],
      });
      const value = (name: string) =>
        resources[0]?.configEntries.find((c) => c.configName === name)?.configValue;
      if (value('retention.ms') !== '-1' || value('cleanup.policy') !== 'delete') {
        this.out.emit(
          `[kafka-event-store] WARNING: topic ${topic} has retention.ms=${value('retention.ms')} cleanup.policy=${value('cleanup.policy')}; ` +
            'it is the source of truth and should keep everything (retention.ms=-1, cleanup.policy=delete)',
        );
      }
    } catch (error) {
      this.out.debug(`could not describe the configs of ${topic}: ${(error as Error).message}`);
    }
  }

  /** Every partition of the topic (from its metadata at open). */
  allPartitions(): number[] {
    return this.partitionMetadata.map((p) => p.partitionId).sort((a, b) => a - b);
  }

  /** The partition of a run's records: murmur2 of the key, as Java clients (kafkajs's default). */
  partitionOf(runId: string): number | undefined {
    if (this.partitionMetadata.length === 0) return undefined; // kafkajs's partitioner decides
    return this.partitioner({
      topic: this.settings.topic,
      partitionMetadata: this.partitionMetadata as never,
      message: { key: runId, value: null },
    });
  }

  /** `fetchTopicOffsets`, retrying what kafkajs's admin does not (a leader moving or just elected). */
  async highWatermarks(): Promise<Array<{ partition: number; high: string; low: string }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.admin.fetchTopicOffsets(this.settings.topic);
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || attempt >= 50 || this.closing()) throw error;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * attempt)));
      }
    }
  }

  /** Delete the materializer's throwaway group (when it was joined) and disconnect. */
  async close(
    groupId: string | undefined,
    quietly: (what: string, fn: () => Promise<unknown>) => Promise<void>,
  ) {
    if (this.connected && groupId)
      await quietly(`delete group ${groupId}`, () => this.admin.deleteGroups([groupId]));
    await quietly('admin disconnect', () => this.admin.disconnect());
  }
}
