import { randomUUID } from 'node:crypto';
import type { Kafka, LogEntry, RecordMetadata } from 'kafkajs';
import { kafkajs } from './kafkajs';
import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { ConcurrencyError, NotOwnerError, ParleyError } from '@parley/contracts';
import type { EventLogReachability, EventStore, ReachabilityChange } from '../event-store.port';
import { checkEventIds } from '../idempotency';
import { assertImportable } from '../import-check';
import { KeyedLock } from '../keyed-lock';
import { defaultSealContext, sealBatch, type SealContext } from '../seal';
import { LocalLogStore } from '../local-log-store';
import { CatchUp } from './catch-up';
import { ChainApplication, type ApplyResult } from './chain-application';
import { createKafka, kafkaLogger } from './kafka-client';
import { partitionProducer, transactionalIdOf } from './fencing';
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
 *   seal, produce the whole batch in one transaction of the partition's send lane (`acks=all`),
 *   apply locally (the chain application), notify. A partition is written only by the instance that
 *   claimed it (`claim`): its transactional producer fences every earlier claimant at the broker.
 * - a consumer with a throwaway group (the materializer) seeks each assigned partition to the next
 *   offset recorded in the local store (the offset checkpoints, written in the same SQLite
 *   transaction as the events), and applies what it reads: each (runId, seq) once, and only when it
 *   extends the local chain. Records this instance sent itself are skipped (own records).
 *
 * Atomicity: one `append` is one Kafka transaction (records of one key, one partition), read by
 * every consumer with read_committed. If the commit fails the outcome can be unknown (a lost
 * answer): the run is then marked uncertain, and its next append first waits for the consumer to
 * catch up, so it sees whatever did land.
 *
 * Two writers of one run: ownership (the owners' group) says who writes a partition, and the broker
 * enforces it: a paused instance that wakes up still believing it owns the partition has been
 * fenced by the new owner's claim, so its next transaction is refused and it drops the partition
 * (`onFenced`). The materializer's first-version-wins rule for a (runId, seq) stays as a second
 * line (a writer outside Parley's transactional ids, a bug): it logs a "split-brain write".
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
  /** The send lanes of the partitions this instance claimed, by partition. */
  private readonly lanes = new Map<number, SendLane>();
  private readonly fencedListeners = new Set<(partition: number) => void>();
  private readonly transactionalIdPrefix: string;
  private retiredOfClosedLanes = 0;
  private readonly closedLaneStats = { sends: 0, appends: 0, records: 0 };
  private readonly catchUp: CatchUp;
  private readonly materializer: Materializer;
  private readonly seal: SealContext;
  private readonly runLocks = new KeyedLock();
  /** Runs whose last produce failed with an unknown outcome. */
  private readonly uncertain = new Set<string>();
  private closing: Promise<void> | undefined;

  private constructor(private readonly config: KafkaEventStoreConfig) {
    super(config.localDir, 'normal'); // a materialised copy of the topic: rebuilt from it if lost
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
        replicationFactor: config.replicationFactor ?? 3,
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
      config.brokers.length > 1 ? () => this.brokersAnswering() : undefined,
    );
    this.reachability.onChange((change) => this.reportReachability(change));
    this.transactionalIdPrefix = config.transactionalIdPrefix ?? this.topic;
    this.catchUp = new CatchUp(this.topic, this.offsetCheckpoints, () => this.topicAdmin.highWatermarks());
    this.materializer = new Materializer({
      kafka: this.kafka,
      topic: this.topic,
      groupId: this.groupId,
      out: this.out,
      offsets: this.offsetCheckpoints,
      own: this.own,
      chain: this.chain,
      sendOf: (partition) => this.lanes.get(partition),
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
    await this.materializer.start();
    await this.waitForCatchUp(this.config.catchUpTimeoutMs ?? 120_000);
    if ((this.config.writes ?? 'all') === 'all') await this.claim(this.topicAdmin.allPartitions());
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
      const { rejected } = await this.laneOf(runId).send(runId, sealed, true);
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
      const { rejected } = await this.laneOf(runId).send(runId, events);
      if (rejected.length > 0) throw new ConcurrencyError(runId, 0, this.log.head(runId)?.seq ?? 0);
    });
  }

  /**
   * Claim the partitions' writes: for each, a transactional producer whose initialisation fences
   * every earlier claimant at the broker (a paused owner's next send is refused), then a catch-up
   * with the partition. Resolves once every lane may send. A partition already claimed is kept.
   */
  async claim(partitions: number[]): Promise<void> {
    this.assertOpen();
    const claims = partitions
      .filter((p) => !this.lanes.get(p) || this.lanes.get(p)!.isDead())
      .map((partition) => {
        const lane = this.newLane(partition);
        this.lanes.set(partition, lane);
        return lane.claim().catch(async (error: Error) => {
          if (this.lanes.get(partition) === lane) this.lanes.delete(partition);
          await this.closeLane(lane, 'the claim failed');
          throw new Error(`could not claim partition ${partition} of ${this.topic}: ${error.message}`);
        });
      });
    const results = await Promise.allSettled(claims);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stop writing the partitions (no longer owned): their queued and later appends fail with NotOwnerError. */
  async release(partitions: number[]): Promise<void> {
    await Promise.all(
      partitions.map(async (partition) => {
        const lane = this.lanes.get(partition);
        if (!lane) return;
        this.lanes.delete(partition);
        await this.closeLane(lane, `partition ${partition} was released`);
      }),
    );
  }

  /** The partitions this instance may write now. */
  claimedPartitions(): number[] {
    return [...this.lanes]
      .filter(([, lane]) => !lane.isDead())
      .map(([p]) => p)
      .sort((a, b) => a - b);
  }

  /** The broker fenced this instance's writes to a partition (another instance claimed it); returns an unsubscribe. */
  onFenced(listener: (partition: number) => void): () => void {
    this.fencedListeners.add(listener);
    return () => this.fencedListeners.delete(listener);
  }

  private laneOf(runId: string): SendLane {
    const partition = this.topicAdmin.partitionOf(runId);
    const lane = partition === undefined ? undefined : this.lanes.get(partition);
    if (!lane || lane.isDead())
      throw new NotOwnerError(
        runId,
        `partition ${partition} of ${this.topic} is not claimed by this instance`,
      );
    return lane;
  }

  private newLane(partition: number): SendLane {
    const transactionalId = transactionalIdOf(this.transactionalIdPrefix, partition);
    const timeoutMs = this.config.transactionTimeoutMs ?? 60_000;
    return new SendLane({
      topic: this.topic,
      partition,
      reachability: this.reachability,
      closing: () => Boolean(this.closing),
      assertReachable: () => this.assertReachable(),
      unavailable: (why) => this.unavailable(why),
      newProducer: () => partitionProducer(this.kafka, transactionalId, timeoutMs),
      caughtUp: () => this.waitForCatchUp(this.config.catchUpTimeoutMs ?? 120_000, [partition]),
      extendsHead: (runId, events) => {
        const head = this.log.head(runId);
        const first = events[0];
        return (
          first !== undefined && first.seq === (head?.seq ?? 0) + 1 && (!head || head.hash === first.prevHash)
        );
      },
      uncertain: (runId) => this.uncertain.add(runId),
      fenced: (p, error) => this.reportFenced(p, error),
      acknowledged: (group, p, acknowledged) => this.applyAcknowledged(group, p, acknowledged),
    });
  }

  private reportFenced(partition: number, error: Error): void {
    this.out.emit(
      `[kafka-event-store] FENCED: another instance claimed partition ${partition} of ${this.topic}; this instance stops writing it (${error.message})`,
    );
    for (const listener of this.fencedListeners) {
      try {
        listener(partition);
      } catch (e) {
        this.out.emit(`[kafka-event-store] fenced listener: ${(e as Error).message}`);
      }
    }
  }

  private async closeLane(lane: SendLane, why: string): Promise<void> {
    const stats = lane.stats();
    this.closedLaneStats.sends += stats.sends;
    this.closedLaneStats.appends += stats.appends;
    this.closedLaneStats.records += stats.records;
    this.retiredOfClosedLanes += lane.retired();
    await lane.close(why, async (what, fn) => {
      try {
        await fn();
      } catch (error) {
        this.out.debug(`${what} failed: ${(error as Error).message}`);
      }
    });
  }

  /**
   * Apply an acknowledged group to the local store in one transaction (one commit for all its
   * appends), notify the subscribers, and remember where its records are in the topic.
   */
  private applyAcknowledged(
    group: QueuedSend[],
    partition: number,
    acknowledged: RecordMetadata[],
  ): SendOutcome[] {
    let results: ApplyResult[];
    try {
      results = this.chain.applyInTransaction(
        group.map(({ events, idsChecked }) => ({ events, idsChecked })),
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
      group.map(() => partition),
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
    let retired = this.retiredOfClosedLanes;
    for (const lane of this.lanes.values()) retired += lane.retired();
    return { ...this.reachability.snapshot(), producersRetired: retired };
  }

  /** Called when the log becomes unreachable or reachable again; returns an unsubscribe. */
  onReachabilityChange(listener: (change: ReachabilityChange) => void): () => void {
    return this.reachability.onChange(listener);
  }

  /** A majority of the configured brokers answers a metadata request (each asked alone, at once). */
  private async brokersAnswering(): Promise<boolean> {
    const answers = await Promise.all(
      this.config.brokers.map(async (broker) => {
        const admin = createKafka(`${this.config.clientId ?? 'parley'}-quorum`, [broker], () => undefined, {
          connectionTimeout: 1000,
          requestTimeout: 2000,
          retry: { retries: 0 },
        }).admin();
        try {
          await admin.connect();
          return (await admin.describeCluster()).controller != null;
        } catch {
          return false;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }),
    );
    return answers.filter(Boolean).length > this.config.brokers.length / 2;
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
    const total = { ...this.closedLaneStats };
    for (const lane of this.lanes.values()) {
      const s = lane.stats();
      total.sends += s.sends;
      total.appends += s.appends;
      total.records += s.records;
    }
    return total;
  }

  /** Next offset to read per partition, as stored in the local store. */
  offsets(): Record<number, number> {
    return this.offsetCheckpoints.snapshot();
  }

  /**
   * Resolves once the local store has applied every record up to the topic's high watermarks as
   * they are at the time of the call (other instances' writes included).
   */
  async waitForCatchUp(
    timeoutMs = this.config.catchUpTimeoutMs ?? 120_000,
    partitions?: number[],
  ): Promise<void> {
    this.assertOpen();
    const failure = this.materializer.failure();
    if (failure) throw failure;
    await this.catchUp.wait(timeoutMs, partitions);
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
    await Promise.all([...this.lanes.values()].map((lane) => lane.close('the store is closing', quietly)));
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
    if (this.closing && level > kafkajs().logLevel.ERROR) return true;
    // Known and deliberate: retries are bounded so that `append` fails (uncertain, see above)
    // instead of hanging through a long outage.
    if (log.message.startsWith('Limiting retries for the idempotent producer')) return true;
    // The broker's answer to a transaction begun while the previous one's commit markers are still
    // being written (CONCURRENT_TRANSACTIONS): retried in a few ms (see fencing.ts), not an error.
    if (/concurrent operation on the same transaction/.test(`${log.message} ${String(log.error ?? '')}`))
      return true;
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
