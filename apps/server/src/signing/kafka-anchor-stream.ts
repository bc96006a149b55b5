import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, LogEntry, Producer } from 'kafkajs';
import { ParleyError, SignedHeadSchema, type SignedHead } from '@parley/contracts';
import {
  createKafka,
  ensureTopics,
  kafkajs,
  kafkaLogger,
  minInsyncOf,
  replicationFor,
  replicationWarning,
  restartWhenStopped,
} from '@parley/event-store';
import { insertHead, type AnchorLine, type AnchorStream } from './anchor-log';

export interface KafkaAnchorStreamConfig {
  brokers: string[];
  /** This instance (the client id, and who wrote each record). */
  instanceId: string;
  /** `<prefix>.anchors` */
  topic: string;
  /** Used only when the topic is created (at most the cluster's brokers). */
  replicationFactor: number;
  log: (line: string) => void;
  warn: (line: string) => void;
}

/** A record of the anchors topic: a signed head, and the instance that wrote it. */
interface AnchorRecord {
  head: SignedHead;
  instance: string;
}

/**
 * The anchor stream of a cluster: one Kafka topic, `<prefix>.anchors`, shared by every instance, so
 * that any instance checks the runs anchored by any other. One partition (anchors are few: one each
 * time a run waits, ends or is imported), keyed by runId, kept forever (`cleanup.policy=delete`,
 * `retention.ms=-1`: every head a run was anchored at, not only its last, so that a run rewritten and
 * continued is still caught at an older anchor). Each instance reads it whole from the start at open
 * (a throwaway consumer group, deleted at close) and follows it; an append resolves once every
 * in-sync replica has the records (acks=-1). Records that are not signed heads
 * are skipped and said once (the topic is not the place to trust: the heads are signed).
 */
export class KafkaAnchorStream implements AnchorStream {
  readonly kind = 'kafka' as const;
  readonly location: string;
  private readonly byRun = new Map<string, SignedHead[]>();
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly groupId: string;
  /** The next offset to read of the topic's one partition. */
  private nextOffset = 0;
  private readonly readers = new Set<() => void>();
  private closing = false;
  private skipped = 0;

  private constructor(private readonly config: KafkaAnchorStreamConfig) {
    this.location = config.topic;
    const kafka = createKafka(
      `${config.instanceId}-anchors`,
      config.brokers,
      kafkaLogger(config.warn, (entry) => this.quiet(entry), 'anchors'),
    );
    this.admin = kafka.admin();
    // Not idempotent: a send retried after a lost answer can write a head twice, which the readers keep
    // once; bounded retries, so that a broker that is down fails the append (the signer retries it)
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.groupId = `${config.topic}-reader-${config.instanceId}-${randomUUID().slice(0, 8)}`;
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
      // One member (this instance): after a broker restart its rejoin waits for the member it replaces
      // to time out; short, as the event log's reader, so anchors are read again seconds after an outage
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async () => true, // said by the CRASH listener
      },
    });
  }

  /** Connect, create the topic when missing, and read it to its end. */
  static async open(config: KafkaAnchorStreamConfig, timeoutMs = 60_000): Promise<KafkaAnchorStream> {
    const stream = new KafkaAnchorStream(config);
    try {
      await stream.admin.connect();
      const replication = await replicationFor(stream.admin, config.replicationFactor);
      const { partitions } = await ensureTopics(stream.admin, [
        {
          topic: config.topic,
          numPartitions: 1,
          replicationFactor: replication.factor,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'retention.ms', value: '-1' },
            { name: 'retention.bytes', value: '-1' },
            { name: 'min.insync.replicas', value: String(replication.minInsync) },
          ],
        },
      ]);
      const warning = replicationWarning(
        config.topic,
        partitions.get(config.topic) ?? [],
        await minInsyncOf(stream.admin, config.topic),
      );
      if (warning) config.warn(`[anchors] ${warning}`);
      await stream.producer.connect();
      stream.consumer.on(stream.consumer.events.GROUP_JOIN, () => {
        // a new generation starts from the group's committed offsets (none: the beginning); go on from here
        if (stream.nextOffset > 0)
          stream.consumer.seek({ topic: config.topic, partition: 0, offset: String(stream.nextOffset) });
      });
      stream.consumer.on(stream.consumer.events.CRASH, (event) => {
        const { error, restart } = event.payload as { error: Error; restart: boolean };
        if (!stream.closing)
          config.warn(`[anchors] consumer crashed (${restart ? 'restarting' : 'stopped'}): ${error.message}`);
      });
      // kafkajs stops a consumer for good after some errors: run it again (subscriptions are kept)
      restartWhenStopped(
        stream.consumer,
        async () => {
          await stream.consumer.connect();
          await stream.read();
        },
        { closing: () => stream.closing, log: config.warn, name: 'anchors' },
      );
      await stream.consumer.connect();
      await stream.consumer.subscribe({ topic: config.topic, fromBeginning: true });
      await stream.read();
      await stream.sync(timeoutMs);
      return stream;
    } catch (error) {
      await stream.close();
      throw new Error(`cannot open the anchor stream (topic ${config.topic}): ${(error as Error).message}`);
    }
  }

  private read(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          this.take(message.value);
          this.nextOffset = Math.max(this.nextOffset, Number(message.offset) + 1);
        }
        this.wake();
      },
    });
  }

  private take(value: Buffer | null): void {
    let head: SignedHead | undefined;
    try {
      const parsed = SignedHeadSchema.safeParse((JSON.parse(String(value)) as AnchorRecord).head);
      if (parsed.success) head = parsed.data;
    } catch {
      // said below
    }
    if (!head) {
      if (this.skipped++ === 0)
        this.config.warn(
          `[anchors] topic ${this.config.topic} holds a record that is not a signed head; skipped`,
        );
      return;
    }
    this.remember(head);
  }

  private remember(head: SignedHead): void {
    let heads = this.byRun.get(head.runId);
    if (!heads) this.byRun.set(head.runId, (heads = []));
    insertHead(heads, head);
  }

  /**
   * While the brokers are down the event log says so (/health, its own log lines); this client's
   * connection errors and its reader's restarts would repeat it every second.
   */
  private quiet({ namespace, log }: LogEntry): boolean {
    if (this.closing) return true;
    if (namespace === 'Connection' || namespace === 'BrokerPool') return true;
    return /Restarting the consumer|rebalancing|re-joining/i.test(log.message);
  }

  private wake(): void {
    for (const reader of [...this.readers]) reader();
  }

  async append(lines: AnchorLine[]): Promise<void> {
    if (!lines.length) return;
    const instance = this.config.instanceId;
    await this.producer.send({
      topic: this.config.topic,
      acks: -1,
      messages: lines.map(({ head }) => ({
        key: head.runId,
        value: JSON.stringify({ head, instance } satisfies AnchorRecord),
      })),
    });
    for (const { head } of lines) this.remember(head); // the reader sees them again: kept once
  }

  /** Until every record the topic held at the call (its high watermark) is read. */
  async sync(timeoutMs = 10_000): Promise<void> {
    let offsets: Array<{ high: string }>;
    try {
      offsets = await this.admin.fetchTopicOffsets(this.config.topic);
    } catch (error) {
      throw new ParleyError(
        'EVENT_LOG.UNAVAILABLE',
        `the anchor stream (topic ${this.config.topic}) cannot be read: ${(error as Error).message}`,
        'unavailable',
      );
    }
    const high = Math.max(0, ...offsets.map((o) => Number(o.high)));
    if (this.nextOffset >= high) return;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.readers.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (this.nextOffset >= high) done();
      };
      const timer = setTimeout(
        () =>
          done(
            new ParleyError(
              'EVENT_LOG.UNAVAILABLE',
              `the anchor stream (topic ${this.config.topic}) was not read up to offset ${high} within ${timeoutMs} ms (at ${this.nextOffset})`,
              'unavailable',
            ),
          ),
        timeoutMs,
      );
      this.readers.add(check);
      check();
    });
  }

  watermark(): number {
    return 0;
  }

  heads(runId: string): SignedHead[] {
    return this.byRun.get(runId) ?? [];
  }

  latest(runId: string): SignedHead | undefined {
    const heads = this.byRun.get(runId);
    return heads?.[heads.length - 1];
  }

  runs(): string[] {
    return [...this.byRun.keys()];
  }

  async close(): Promise<void> {
    this.closing = true;
    const quietly = (fn: () => Promise<unknown>) => fn().catch(() => undefined);
    await quietly(() => this.consumer.disconnect());
    await quietly(() => this.producer.disconnect());
    await quietly(() => this.admin.deleteGroups([this.groupId]));
    await quietly(() => this.admin.disconnect());
  }
}
