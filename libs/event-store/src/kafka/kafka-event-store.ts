import { randomUUID } from 'node:crypto';
import { logLevel, type Kafka, type LogEntry, type RecordMetadata } from 'kafkajs';
import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { ConcurrencyError, ParleyError } from '@parley/contracts';
import type { EventLogReachability, EventStore, ReachabilityChange } from '../event-store.port';
import { checkEventIds } from '../idempotency';
import { assertImportable } from '../import-check';
import { KeyedLock } from '../keyed-lock';
import { defaultSealContext, sealBatch, type SealContext } from '../seal';
import { LocalLogStore } from '../local-log-store';
import { CatchUp } from './catch-up';
import { ChainApplication, type ApplyResult } from './chain-application';
import { createKafka, kafkaLogger } from './kafka-client';
import { KafkaReachability } from './kafka-reachability';
import { Materializer } from './materializer';
import { OffsetCheckpoints } from './offset-checkpoints';
import { OwnRecords } from './own-records';
import { SendLane, type QueuedSend, type SendOutcome } from './send-lane';
import { storeLog, type StoreLog } from './store-log';
import { RunEventsTopicAdmin } from './topic-admin';
import type { KafkaEventStoreConfig } from './kafka-event-store.config';

export type { KafkaEventStoreConfig } from './kafka-event-store.config';

export const DEFAULT_RUN_EVENTS_TOPIC = 'parley.run-events';

/**
 * The Kafka adapter: the topic (key = runId) is the source of truth, and every instance keeps a
 * local SQLite store materialised from ALL partitions of it; reads come from that store.
 *
 * - append: check `expectedSeq` against the local head (serialised per run inside this process),
 *   seal, produce the whole batch in one `send` (the send lane), wait for `acks=all`, apply locally
 *   (the chain application), notify.
 * - a consumer with a throwaway group (the materializer) seeks each assigned partition to the next
 *   offset recorded in the local store (the offset checkpoints, written in the same SQLite
 *   transaction as the events), and applies what it reads: each (runId, seq) once, and only when it
 *   extends the local chain. Records this instance sent itself are skipped (own records).
 *
 * Atomicity caveat: one `append` is one `producer.send` of records that share a key, hence one
 * partition, hence one record batch in one Produce request; Kafka appends a record batch to the
 * partition log as a unit, so in practice the batch is all-or-nothing. This is not a transaction
 * (kafkajs's idempotent producer is also marked experimental): if `send` fails after retries the
 * outcome is unknown (the batch may still be in the log). The run is then marked uncertain, and
 * its next append first waits for the consumer to catch up, so it sees whatever did land.
 *
 * Multiple writers to one run in different processes are meant to be prevented by ownership.
 * Should it happen anyway (split brain), each instance keeps the first version it stored of a
 * (runId, seq) and logs a warning; instances can then disagree, since an instance's own append is
 * applied locally at ack time, possibly before it has consumed a competing earlier record.
 *
 * Global positions (`readAll`, `subscribe`) are local to each instance's store.
 */
export class KafkaEventStore extends LocalLogStore implements EventStore {
  readonly kind = 'kafka' as const;
  readonly topic: string;
  readonly groupId: string;

  private readonly out: StoreLog;
  private readonly kafka: Kafka;
  private readonly topicAdmin: RunEventsTopicAdmin;
  private readonly reachability: KafkaReachability;
  private readonly chain: ChainApplication;
  private readonly offsetCheckpoints: OffsetCheckpoints;
  private readonly own = new OwnRecords();
  private readonly lane: SendLane;
  private readonly catchUp: CatchUp;
  private readonly materializer: Materializer;
  private readonly seal: SealContext;
  private readonly runLocks = new KeyedLock();
  /** Runs whose last produce failed with an unknown outcome. */
  private readonly uncertain = new Set<string>();
  private closing: Promise<void> | undefined;

  private constructor(private readonly config: KafkaEventStoreConfig) {
    super(config.localDir);
    this.topic = config.topic ?? DEFAULT_RUN_EVENTS_TOPIC;
    this.groupId = `parley-materializer-${randomUUID()}`;
    this.seal = config.seal ?? defaultSealContext;
    this.out = storeLog(config.log ?? ((line) => process.stderr.write(`${line}\n`)), config.debug);
    this.chain = new ChainApplication(this.log, this.out);

    const storedTopic = this.log.getMeta('kafka.topic');
    if (storedTopic !== undefined && storedTopic !== this.topic) {
      this.log.close();
      throw new Error(
        `the local store in ${config.localDir} was materialised from topic ${storedTopic}, not ${this.topic}; use another localDir`,
      );
    }
    if (storedTopic === undefined) this.log.applyOnce([], { 'kafka.topic': this.topic });
    this.offsetCheckpoints = new OffsetCheckpoints(this.log, this.out);

    const closing = (): boolean => Boolean(this.closing);
    this.kafka = createKafka(
      config.clientId ?? 'parley',
      config.brokers,
      kafkaLogger(this.out.emit, (entry) => this.quiet(entry)),
    );
    this.topicAdmin = new RunEventsTopicAdmin(
      this.kafka,
      {
        brokers: config.brokers,
        topic: this.topic,
        partitions: config.partitions ?? 12,
        replicationFactor: config.replicationFactor ?? 1,
      },
      this.out,
      closing,
    );
    this.reachability = new KafkaReachability(
      createKafka(`${config.clientId ?? 'parley'}-probe`, config.brokers, () => undefined, {
        connectionTimeout: 1000,
        requestTimeout: 2000,
        retry: { retries: 0 },
      }),
      this.topic,
      config.probeIntervalMs ?? 1000,
    );
    this.reachability.onChange((change) => this.reportReachability(change));
    this.lane = new SendLane({
      kafka: this.kafka,
      topic: this.topic,
      reachability: this.reachability,
      closing,
      assertReachable: () => this.assertReachable(),
      unavailable: (why) => this.unavailable(why),
      partitionOf: (runId) => this.topicAdmin.partitionOf(runId),
      uncertain: (runId) => this.uncertain.add(runId),
      acknowledged: (group, partitions, acknowledged) =>
        this.applyAcknowledged(group, partitions, acknowledged),
    });
    this.catchUp = new CatchUp(this.topic, this.offsetCheckpoints, () => this.topicAdmin.highWatermarks());
    this.materializer = new Materializer({
      kafka: this.kafka,
      topic: this.topic,
      groupId: this.groupId,
      out: this.out,
      offsets: this.offsetCheckpoints,
      own: this.own,
      chain: this.chain,
      lane: this.lane,
      catchUp: this.catchUp,
      reachability: this.reachability,
      subscriptions: this.subscriptions,
      closing,
    });
  }

  /** Connect, create the topic if missing, start consuming, and resolve once caught up. */
  static async open(config: KafkaEventStoreConfig): Promise<KafkaEventStore> {
    if (!config.brokers?.length) {
      throw new Error('KafkaEventStore needs at least one broker (set KAFKA_BROKERS, e.g. 127.0.0.1:9092)');
    }
    const store = new KafkaEventStore(config);
    try {
      await store.start();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  private async start(): Promise<void> {
    const started = Date.now();
    await this.topicAdmin.connect(this.config.connectTimeoutMs ?? 10_000);
    await this.topicAdmin.ensure();
    await this.lane.connect();
    await this.materializer.start();
    await this.waitForCatchUp(this.config.catchUpTimeoutMs ?? 120_000);
    this.reachability.start();
    this.out.debug(
      `open: topic ${this.topic} caught up in ${Date.now() - started} ms (local head position ${this.log.lastPosition()})`,
    );
  }

  async append(runId: string, expectedSeq: number, events: NewEvent[]): Promise<EventEnvelope[]> {
    this.assertOpen();
    if (events.length === 0) return [];
    this.assertReachable();
    return this.runLocks.run(runId, async () => {
      this.assertReachable();
      await this.settleUncertain(runId);
      // Event-id idempotency (see checkEventIds): a repeat returns what is stored and produces
      // nothing. After a produce with an unknown outcome, settleUncertain has just consumed
      // whatever landed, so a retry of that batch is recognised here rather than produced twice.
      const verdict = checkEventIds(runId, events, (ids) => this.log.findByEventIds(runId, ids));
      if (verdict.kind === 'repeat') return verdict.stored;
      const head = this.log.head(runId);
      const actual = head?.seq ?? 0;
      if (actual !== expectedSeq) throw new ConcurrencyError(runId, expectedSeq, actual);
      const sealed = sealBatch(runId, head, events, this.seal);
      const { rejected } = await this.lane.send(runId, sealed, true);
      if (rejected.length > 0) {
        // Another writer's events for this run reached the local store between the check and the ack.
        throw new ConcurrencyError(runId, expectedSeq, this.log.head(runId)?.seq ?? 0);
      }
      return sealed;
    });
  }

  async importStream(runId: string, events: EventEnvelope[]): Promise<void> {
    this.assertOpen();
    assertImportable(runId, events);
    this.assertReachable();
    await this.runLocks.run(runId, async () => {
      this.assertReachable();
      await this.settleUncertain(runId);
      const head = this.log.head(runId);
      if (head) throw new ConcurrencyError(runId, 0, head.seq);
      const { rejected } = await this.lane.send(runId, events);
      if (rejected.length > 0) throw new ConcurrencyError(runId, 0, this.log.head(runId)?.seq ?? 0);
    });
  }

  /**
   * Apply an acknowledged group to the local store in one transaction (one commit for all its
   * appends), notify the subscribers, and remember where its records are in the topic.
   */
  private applyAcknowledged(
    group: QueuedSend[],
    partitions: Array<number | undefined>,
    acknowledged: RecordMetadata[],
  ): SendOutcome[] {
    let results: ApplyResult[];
    try {
      results = this.chain.applyInTransaction(
        group.map(({ events, values, idsChecked }) => ({ events, bodies: values, idsChecked })),
      );
    } catch (error) {
      // In the topic, not here (the store is closing, the disk is full...): the consumer applies
      // them later; until it has, the run's next append waits for it (its local head is behind).
      for (const { runId } of group) this.uncertain.add(runId);
      return group.map(
        ({ runId }) =>
          new Error(
            `run ${runId}: written to ${this.topic} but not to the local store: ${(error as Error).message}`,
          ),
      );
    }
    this.subscriptions.notify(results.flatMap((r) => r.stored));
    this.own.remember(
      this.topic,
      group.map(({ events }, g) => ({ events, rejected: results[g].rejected.length > 0 })),
      partitions,
      acknowledged,
      (partition) => this.offsetCheckpoints.next(partition),
    );
    return results.map(({ rejected }) => ({ rejected }));
  }

  /**
   * New work is refused at once while the brokers are unreachable (503 `EVENT_LOG.UNAVAILABLE`):
   * nothing is sent, nothing half-exists. Also called by the server before routing a command.
   */
  assertReachable(): void {
    if (!this.reachability.isReachable()) throw this.unavailable();
  }

  private unavailable(why?: string): ParleyError {
    const r = this.reachability.snapshot();
    return new ParleyError(
      'EVENT_LOG.UNAVAILABLE',
      `The event log (Kafka topic ${this.topic} at ${this.config.brokers.join(',')}) has been unreachable since ${r.since}` +
        `${why ? ` (${why})` : r.lastError ? ` (${r.lastError})` : ''}; nothing was written. Try again once GET /health reports it reachable.`,
      'unavailable',
      undefined,
      {
        log: 'kafka',
        topic: this.topic,
        brokers: this.config.brokers,
        since: r.since,
        lastError: r.lastError,
      },
    );
  }

  /** Whether the brokers answer (probe, produces, consumer), for `/health`. */
  reachabilityStatus(): EventLogReachability & { producersRetired: number } {
    return { ...this.reachability.snapshot(), producersRetired: this.lane.retired() };
  }

  /** Called when the log becomes unreachable or reachable again; returns an unsubscribe. */
  onReachabilityChange(listener: (change: ReachabilityChange) => void): () => void {
    return this.reachability.onChange(listener);
  }

  /** One probe round-trip now (tests, and a recovery that should not wait for the next tick). */
  probeReachability(): Promise<boolean> {
    return this.reachability.probe();
  }

  private reportReachability(change: ReachabilityChange): void {
    const brokers = this.config.brokers.join(',');
    if (change.reachable)
      this.out.emit(
        `[kafka-event-store] the event log is reachable again after ${change.downMs} ms (${brokers})`,
      );
    else
      this.out.emit(
        `[kafka-event-store] the event log is UNREACHABLE (${brokers}): ${change.error}; new work is refused until it answers`,
      );
  }

  /** After a produce with an unknown outcome, wait until whatever landed is in the local store. */
  private async settleUncertain(runId: string): Promise<void> {
    if (!this.uncertain.has(runId)) return;
    await this.waitForCatchUp();
    this.uncertain.delete(runId);
  }

  /** See `Materializer.stats`. */
  stats(): ReturnType<Materializer['stats']> {
    return this.materializer.stats();
  }

  /** Sends made since this instance opened (group commit: appends and records per send). */
  sendStats(): { sends: number; appends: number; records: number } {
    return this.lane.stats();
  }

  /** Next offset to read per partition, as stored in the local store. */
  offsets(): Record<number, number> {
    return this.offsetCheckpoints.snapshot();
  }

  /**
   * Resolves once the local store has applied every record up to the topic's high watermarks as
   * they are at the time of the call (other instances' writes included).
   */
  async waitForCatchUp(timeoutMs = this.config.catchUpTimeoutMs ?? 120_000): Promise<void> {
    this.assertOpen();
    const failure = this.materializer.failure();
    if (failure) throw failure;
    await this.catchUp.wait(timeoutMs);
  }

  async close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.reachability.stop();
    this.catchUp.failAll(new Error('the Kafka event store was closed'));
    await this.runLocks.idle();
    const quietly = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        this.out.debug(`close: ${what} failed: ${(error as Error).message}`);
      }
    };
    await this.materializer.close(quietly);
    await this.lane.close(quietly);
    await this.topicAdmin.close(this.materializer.joinedGroup(), quietly);
    this.subscriptions.closeAll();
    this.offsetCheckpoints.close();
    this.log.close();
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the Kafka event store is closed');
  }

  /** kafkajs log entries not worth a line. */
  private quiet({ level, namespace, log }: LogEntry): boolean {
    if (this.closing && level > logLevel.ERROR) return true;
    // Known and deliberate: retries are bounded so that `append` fails (uncertain, see above)
    // instead of hanging through a long outage.
    if (log.message.startsWith('Limiting retries for the idempotent producer')) return true;
    // A just-created topic's partitions answer NOT_LEADER for a moment; the topic admin retries it.
    if (
      this.topicAdmin.creating &&
      namespace === 'Connection' &&
      String(log.error).includes('not the leader')
    )
      return true;
    // While the brokers are known to be unreachable, one line said so (reportReachability); kafkajs
    // would add a few connection errors a second until they are back.
    return !this.reachability.isReachable() && (namespace === 'Connection' || namespace === 'BrokerPool');
  }
}
