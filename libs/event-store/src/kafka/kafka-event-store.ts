import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import {
  ConfigResourceTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaMessage,
  type LogEntry,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';
import { ConcurrencyError, GENESIS_HASH, ParleyError, hashEvent } from '@parley/contracts';
import type { EventStore, StreamHead } from '../event-store.port';
import { checkEventIds } from '../idempotency';
import { assertImportable } from '../import-check';
import { defaultSealContext, sealBatch, type SealContext } from '../seal';
import { LocalLogStore } from '../local-log-store';
import { createKafka, restartWhenStopped } from './kafka-client';
import {
  KafkaReachability,
  isUnreachableError,
  type EventLogReachability,
  type ReachabilityChange,
} from './kafka-reachability';

export const DEFAULT_RUN_EVENTS_TOPIC = 'parley.run-events';

const LEVELS: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };

export interface KafkaEventStoreConfig {
  /** `host:port` of one or more brokers (usually from KAFKA_BROKERS). */
  brokers: string[];
  clientId?: string;
  /** Default `parley.run-events`. */
  topic?: string;
  /** Used only when the topic is created. Default 12. */
  partitions?: number;
  /** Used only when the topic is created. Default 1 (production: 3). */
  replicationFactor?: number;
  /**
   * The materialised local store: a folder (`events.db` inside it) or `:memory:`. A persisted
   * folder resumes from its stored offsets; `:memory:` or a new folder rebuilds from the topic.
   */
  localDir: string;
  seal?: SealContext;
  /** Warnings and errors (kafkajs's included), one line each. Default: stderr. */
  log?: (line: string) => void;
  /** Bound on reaching the brokers in `open`. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Bound on the initial catch-up in `open` (and the default for `waitForCatchUp`). Default 120 000 ms. */
  catchUpTimeoutMs?: number;
  /** Period of the reachability probe (one ListOffsets round-trip). Default 1000 ms. */
  probeIntervalMs?: number;
}

interface CatchUpWaiter {
  targets: Map<number, { low: number; high: number }>;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** An append waiting for its send (group commit, see KafkaEventStore.produce). */
interface QueuedSend {
  runId: string;
  events: EventEnvelope[];
  /** The records' values (the events' JSON), and their total length. */
  values: string[];
  bytes: number;
  /** The append checked the events' ids under the run's lock (see ApplyBatch). */
  idsChecked: boolean;
  /** Settled once the send is acknowledged AND the events are applied to the local store. */
  resolve: (outcome: { rejected: EventEnvelope[] }) => void;
  reject: (error: Error) => void;
}

/** Bounds on one grouped send (the broker's default message.max.bytes is 1 MiB per partition batch). */
const MAX_GROUP_RECORDS = 500;
const MAX_GROUP_BYTES = 512 * 1024;
/** Own records remembered per partition for the consumer to skip (beyond: it looks them up). */
const MAX_OWN_RECORDS = 100_000;
/** How often offsets moved by skipped records alone are written to the local store. */
const OFFSETS_SAVE_MS = 1000;
/** The longest the consumer waits for the send in flight whose records it has fetched. */
const SEND_WAIT_MS = 1000;

/** A record's identity in Parley's terms, from its key and headers: `runId seq hash`. */
function recordId(message: KafkaMessage): string {
  return `${message.key?.toString('utf8')} ${message.headers?.['parley-seq']?.toString()} ${message.headers?.['parley-hash']?.toString()}`;
}

/** The send in flight (see `KafkaEventStore.consumeBatch`). */
class SendInFlight {
  /** Built when the consumer first asks (it usually meets the records after the send is over). */
  private ids?: Set<string>;
  private finish!: () => void;
  private readonly over = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(private readonly group: QueuedSend[]) {}

  has(id: string): boolean {
    if (!this.ids) {
      this.ids = new Set();
      for (const { runId, events } of this.group)
        for (const e of events) this.ids.add(`${runId} ${e.seq} ${e.hash}`);
    }
    return this.ids.has(id);
  }

  end(): void {
    this.finish();
  }

  /** Resolves when the send is over, or after `ms` at most. */
  settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.over,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]).finally(() => clearTimeout(timer));
  }
}

/** Events to apply to the local store, and the `meta` rows to write with them. */
interface ApplyBatch {
  events: EventEnvelope[];
  /** The events' JSON, when known (the records' values). */
  bodies?: string[];
  /**
   * This instance's own append, whose event ids were checked under the run's lock (`append`):
   * the chain is still checked (another writer's events may have landed meanwhile), not the ids.
   */
  idsChecked?: boolean;
  meta?: Record<string, string>;
  /** Where an event came from, for warnings (a topic position, or `append`). */
  where?: (e: EventEnvelope) => string;
}

interface ApplyResult {
  applied: number;
  /** What was stored, with its local positions, in order: handed to the subscribers as it is. */
  stored: StoredEvent[];
  /** Events that were not stored because the local chain already holds something else there. */
  rejected: EventEnvelope[];
}

/**
 * The Kafka adapter: the topic (key = runId) is the source of truth, and every instance keeps a
 * local SQLite store materialised from ALL partitions of it; reads come from that store.
 *
 * - append: check `expectedSeq` against the local head (serialised per run inside this process),
 *   seal, produce the whole batch in one `send`, wait for `acks=all`, apply locally, notify.
 * - a consumer with a throwaway group (no committed offsets are relied on) seeks each assigned
 *   partition to the next offset recorded in the local store (`offset:<partition>` meta, written
 *   in the same SQLite transaction as the events), and applies what it reads: each (runId, seq)
 *   once, and only when it extends the local chain.
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

  private readonly kafka: Kafka;
  private readonly admin: Admin;
  /** Replaced after a produce with an unknown outcome (see `retireProducer`). */
  private producer: Producer;
  /** Produces go one at a time (see `produce`). */
  /** Appends waiting for the lane (see `produce`), and whether a send is in flight. */
  private readonly sendQueue: QueuedSend[] = [];
  private sending = false;
  private producersRetired = 0;
  /** Sends (Produce requests) made, and the appends and records they carried. */
  private readonly sends = { sends: 0, appends: 0, records: 0 };
  private readonly reachability: KafkaReachability;
  private readonly consumer: Consumer;
  private readonly seal: SealContext;
  private readonly emit: (line: string) => void;
  private readonly hashAt: Statement<[string, number], { hash: string }>;
  /** `applyChecked` of many batches in ONE transaction (one commit): a send group, a fetched batch. */
  private readonly applyInTransaction: (batches: ApplyBatch[]) => ApplyResult[];
  /** The kafkajs default partitioner (murmur2 of the key, as Java clients), called once per append. */
  private readonly partitioner = Partitioners.DefaultPartitioner();
  /** The topic's partitions (from its metadata at open): `partitionOf(runId)`. */
  private partitionMetadata: Array<{ partitionId: number; leader: number }> = [];
  /**
   * Records this instance produced and has already applied, by partition and offset (from the send's
   * acknowledgement): their hash. The consumer reading them back skips them without a lookup.
   */
  private readonly ownRecords = new Map<number, Map<number, string>>();
  /** Partitions whose consumed offset moved without a commit (skipped own records): written later. */
  private readonly unsavedOffsets = new Set<number>();
  private offsetsTimer?: NodeJS.Timeout;
  /** The send in flight: its records' ids (`recordId`), and when it is over (applied or failed). */
  private sendInFlight?: SendInFlight;

  /** Next offset to read, per partition, mirrored from the local store's meta. */
  private readonly consumed = new Map<number, number>();
  private readonly waiters = new Set<CatchUpWaiter>();
  private readonly runLocks = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Runs whose last produce failed with an unknown outcome. */
  private readonly uncertain = new Set<string>();
  private readonly counters = {
    recordsConsumed: 0,
    eventsApplied: 0,
    duplicates: 0,
    rejected: 0,
    badRecords: 0,
  };
  private consumerError: Error | undefined;
  private closing: Promise<void> | undefined;
  private adminConnected = false;
  private creatingTopic = false;
  private producerConnected = false;
  private consumerStarted = false;

  private constructor(private readonly config: KafkaEventStoreConfig) {
    super(config.localDir);
    this.topic = config.topic ?? DEFAULT_RUN_EVENTS_TOPIC;
    this.groupId = `parley-materializer-${randomUUID()}`;
    this.seal = config.seal ?? defaultSealContext;
    this.emit = config.log ?? ((line) => process.stderr.write(`${line}\n`));

    this.hashAt = this.log.db.prepare('SELECT hash FROM events WHERE run_id = ? AND seq = ?');
    this.applyInTransaction = this.log.db.transaction((batches: ApplyBatch[]) =>
      batches.map((b) => this.checkAndStore(b)),
    );

    const storedTopic = this.log.getMeta('kafka.topic');
    if (storedTopic !== undefined && storedTopic !== this.topic) {
      this.log.close();
      throw new Error(
        `the local store in ${config.localDir} was materialised from topic ${storedTopic}, not ${this.topic}; use another localDir`,
      );
    }
    if (storedTopic === undefined) this.log.applyOnce([], { 'kafka.topic': this.topic });
    for (const row of this.log.db
      .prepare<[], { key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'offset:%'")
      .all()) {
      this.consumed.set(Number(row.key.slice('offset:'.length)), Number(row.value));
    }

    this.kafka = createKafka(config.clientId ?? 'parley', config.brokers, (entry) => this.kafkaLog(entry));
    this.admin = this.kafka.admin();
    this.producer = this.newProducer();
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
    this.consumer = this.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
      // The group has one member (this instance). After a broker restart, its rejoin waits for the
      // member it replaces to time out: keep that short (the broker's minimum is usually 6 s), so
      // the local store catches up seconds after an outage, not 30 s (the default).
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async (error) => {
          this.emit(`[kafka-event-store] consumer failed, restarting: ${error.message}`);
          return true;
        },
      },
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
    await this.connectAdmin();
    await this.ensureTopic();
    await this.producer.connect();
    this.producerConnected = true;
    await this.startConsumer();
    await this.waitForCatchUp(this.config.catchUpTimeoutMs ?? 120_000);
    this.reachability.start();
    this.debug(
      `open: topic ${this.topic} caught up in ${Date.now() - started} ms (local head position ${this.log.lastPosition()})`,
    );
  }

  private async connectAdmin(): Promise<void> {
    const timeoutMs = this.config.connectTimeoutMs ?? 10_000;
    const brokers = this.config.brokers.join(',');
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
      this.adminConnected = true;
    } catch (error) {
      throw new ParleyError(
        'EVENT_STORE.KAFKA_UNREACHABLE',
        `Cannot reach the Kafka brokers ${brokers} within ${timeoutMs / 1000} s: ${(error as Error).message}. ` +
          'Check KAFKA_BROKERS (comma-separated host:port) and that a broker is running there (npm run kafka:start).',
        'unavailable',
        undefined,
        { brokers: this.config.brokers },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private async ensureTopic(): Promise<void> {
    const replicationFactor = this.config.replicationFactor ?? 1;
    const numPartitions = this.config.partitions ?? 12;
    this.creatingTopic = true;
    try {
      await this.createTopicIfMissing(numPartitions, replicationFactor);
    } finally {
      this.creatingTopic = false;
    }
  }

  private async createTopicIfMissing(numPartitions: number, replicationFactor: number): Promise<void> {
    const existing = await this.admin.listTopics();
    if (!existing.includes(this.topic)) {
      // waitForLeaders is false: kafkajs 2.2.4 does not retry UNKNOWN_TOPIC_OR_PARTITION while a
      // new topic's metadata propagates on a KRaft broker (kafkajs #815); poll below instead.
      await this.admin.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic: this.topic,
            numPartitions,
            replicationFactor,
            configEntries: [
              { name: 'cleanup.policy', value: 'delete' },
              { name: 'retention.ms', value: '-1' }, // the log is the source of truth: keep it forever
              { name: 'retention.bytes', value: '-1' },
              { name: 'min.insync.replicas', value: String(Math.min(2, replicationFactor)) },
            ],
          },
        ],
      });
    }
    const deadline = Date.now() + 30_000;
    let last = 'no metadata yet';
    for (;;) {
      try {
        const md = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
        const partitions = md.topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0)) {
          // The metadata can name a leader before that broker serves the partition (ListOffsets
          // answers NOT_LEADER_FOR_PARTITION for a moment on KRaft): ready once offsets answer.
          await this.admin.fetchTopicOffsets(this.topic);
          if (existing.includes(this.topic)) await this.checkExistingTopic(partitions.length, numPartitions);
          this.partitionMetadata = partitions.map((p) => ({ partitionId: p.partitionId, leader: p.leader }));
          return;
        }
        last = 'partitions without a leader';
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`topic ${this.topic} has no partition leaders after 30 s: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** An existing topic is used as it is; say so when its settings could lose or misplace events. */
  private async checkExistingTopic(actualPartitions: number, numPartitions: number): Promise<void> {
    if (actualPartitions !== numPartitions) {
      this.debug(
        `topic ${this.topic} exists with ${actualPartitions} partitions (config asks ${numPartitions}); using it as is`,
      );
    }
    try {
      const { resources } = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: this.topic,
            configNames: ['cleanup.policy', 'retention.ms'],
          },
        ],
      });
      const value = (name: string) =>
        resources[0]?.configEntries.find((c) => c.configName === name)?.configValue;
      if (value('retention.ms') !== '-1' || value('cleanup.policy') !== 'delete') {
        this.emit(
          `[kafka-event-store] WARNING: topic ${this.topic} has retention.ms=${value('retention.ms')} cleanup.policy=${value('cleanup.policy')}; ` +
            'it is the source of truth and should keep everything (retention.ms=-1, cleanup.policy=delete)',
        );
      }
    } catch (error) {
      this.debug(`could not describe the configs of ${this.topic}: ${(error as Error).message}`);
    }
  }

  private async startConsumer(): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.consumerError = undefined; // running again after a stop (see restartWhenStopped)
      // A new generation starts from the group's committed offsets (none: fromBeginning). Seek
      // every partition the local store has seen to where it left off instead.
      for (const [partition, offset] of this.consumed) {
        try {
          this.consumer.seek({ topic: this.topic, partition, offset: String(offset) });
        } catch (error) {
          this.emit(
            `[kafka-event-store] seek ${this.topic}/${partition} to ${offset} failed: ${(error as Error).message}`,
          );
        }
      }
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      // kafkajs reports a crash after its retries: it counts unless the brokers answered in the last 2 s.
      if (!this.closing && isUnreachableError(error))
        this.reachability.fail('consumer', error, Date.now() - 2000);
      this.emit(
        `[kafka-event-store] consumer crashed (${restart ? 'restarting' : 'stopped'}): ${error.message}`,
      );
      if (!restart && !this.closing) {
        // Until restartWhenStopped has it running again: catching up fails at once, not after a timeout.
        this.consumerError = error;
        for (const waiter of [...this.waiters]) this.settle(waiter, error);
      }
    });
    const run = () =>
      this.consumer.run({
        autoCommit: false, // the local store holds the offsets, in the same transaction as the events
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch, isRunning, isStale }) => {
          if (this.closing || !isRunning() || isStale() || batch.messages.length === 0) return;
          // Own records fetched before their send's acknowledgement was handled: wait for it (a few
          // ms), after which they are applied and known, rather than decoding and applying them here.
          if (this.sendInFlight && batch.messages.some((m) => this.sendInFlight!.has(recordId(m))))
            await this.sendInFlight.settled(SEND_WAIT_MS);
          if (this.closing || !isRunning() || isStale()) return;
          this.consumeBatch(batch.partition, batch.messages);
        },
      });
    restartWhenStopped(
      this.consumer,
      async () => {
        await this.consumer.connect();
        await run();
      },
      { closing: () => Boolean(this.closing), log: this.emit, name: 'event-log' },
    );
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    this.consumerStarted = true;
    await run();
  }

  /** Decode, check and apply one fetched batch. A bad record is logged and skipped (its offset still advances). */
  private consumeBatch(partition: number, messages: KafkaMessage[]): void {
    const events: EventEnvelope[] = [];
    const where = new Map<EventEnvelope, string>();
    const own = this.ownRecords.get(partition);
    let known = 0;
    for (const message of messages) {
      const mine = own?.get(Number(message.offset));
      if (mine !== undefined && mine === message.headers?.['parley-hash']?.toString()) {
        known += 1; // this instance's own append, applied when it was acknowledged
        continue;
      }
      if (this.isStored(message)) {
        known += 1; // read back before its acknowledgement was handled, or a producer retry: nothing to decode
        continue;
      }
      const at = `${this.topic}/${partition}@${message.offset}`;
      const event = this.decode(message, at);
      if (event) {
        events.push(event);
        where.set(event, at);
      }
    }
    const next = Number(messages[messages.length - 1].offset) + 1;
    if (own) {
      for (const offset of own.keys()) {
        if (offset >= next) break; // remembered in offset order (sends go one at a time)
        own.delete(offset);
      }
      if (own.size === 0) this.ownRecords.delete(partition);
    }
    this.counters.recordsConsumed += messages.length;
    this.counters.badRecords += messages.length - known - events.length;
    this.counters.duplicates += known;
    if (events.length === 0) {
      // Nothing to store: the offset is written later (a crash before that re-reads these records,
      // which are recognised as stored again), not in a commit per fetched batch.
      this.consumed.set(partition, next);
      this.unsavedOffsets.add(partition);
      this.offsetsTimer ??= setTimeout(() => this.saveOffsets(), OFFSETS_SAVE_MS);
      this.checkWaiters();
      return;
    }
    const meta: Record<string, string> = { [`offset:${partition}`]: String(next) };
    for (const p of this.unsavedOffsets)
      if (p !== partition) meta[`offset:${p}`] = String(this.consumed.get(p));
    try {
      const { applied, stored, rejected } = this.applyChecked(events, meta, (e) => where.get(e) ?? '?');
      this.consumed.set(partition, next);
      this.unsavedOffsets.clear();
      this.counters.eventsApplied += applied;
      this.counters.rejected += rejected.length;
      this.counters.duplicates += events.length - applied - rejected.length;
      if (applied > 0) this.subscriptions.notify(stored);
    } catch (error) {
      // Only a local storage failure lands here (the store is closing, disk full...). Do not
      // advance: the batch is fetched again after the consumer restarts.
      this.emit(
        `[kafka-event-store] could not apply ${this.topic}/${partition} up to offset ${next - 1}: ${(error as Error).message}`,
      );
      throw error;
    }
    this.checkWaiters();
  }

  /** Write the offsets moved by skipped records alone (see `consumeBatch`). */
  private saveOffsets(): void {
    clearTimeout(this.offsetsTimer);
    this.offsetsTimer = undefined;
    if (this.unsavedOffsets.size === 0 || !this.log.db.open) return;
    const meta: Record<string, string> = {};
    for (const p of this.unsavedOffsets) meta[`offset:${p}`] = String(this.consumed.get(p));
    try {
      this.log.applyOnce([], meta);
      this.unsavedOffsets.clear();
    } catch (error) {
      this.debug(`could not save offsets: ${(error as Error).message}`); // next time
      this.offsetsTimer = setTimeout(() => this.saveOffsets(), OFFSETS_SAVE_MS);
    }
  }

  /**
   * Whether the record is already in the local store, told from its key and headers alone (run, seq
   * and hash: written by every Parley producer) without parsing its value. A record without them, or
   * whose hash differs from the stored one, is decoded and checked in full.
   */
  private isStored(message: KafkaMessage): boolean {
    const hash = message.headers?.['parley-hash']?.toString();
    const seq = Number(message.headers?.['parley-seq']?.toString());
    const runId = message.key?.toString('utf8');
    if (!hash || !runId || !Number.isInteger(seq)) return false;
    return this.hashAt.get(runId, seq)?.hash === hash;
  }

  private decode(message: KafkaMessage, at: string): EventEnvelope | undefined {
    try {
      if (!message.value) throw new Error('empty value');
      const event = JSON.parse(message.value.toString('utf8')) as EventEnvelope;
      if (typeof event !== 'object' || event === null) throw new Error('not a JSON object');
      if (typeof event.runId !== 'string' || !event.runId) throw new Error('no runId');
      if (!Number.isInteger(event.seq) || event.seq < 1) throw new Error(`bad seq ${String(event.seq)}`);
      if (
        typeof event.hash !== 'string' ||
        typeof event.prevHash !== 'string' ||
        typeof event.type !== 'string'
      ) {
        throw new Error('missing hash, prevHash or type');
      }
      const key = message.key?.toString('utf8');
      if (key !== event.runId) throw new Error(`key ${key} differs from runId ${event.runId}`);
      if (hashEvent(event) !== event.hash)
        throw new Error(`run ${event.runId} seq ${event.seq} does not match its hash`);
      return event;
    } catch (error) {
      this.emit(`[kafka-event-store] skipping bad record at ${at}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * Store, in one SQLite transaction (with `meta`), the events that extend the local chain of their
   * run. A (runId, seq) already stored with the same hash is a duplicate (ignored silently); with a
   * different hash, or an event that does not link to the stored head, it is rejected with a
   * warning: the first version stored wins.
   */
  private applyChecked(
    events: EventEnvelope[],
    meta?: Record<string, string>,
    where?: (e: EventEnvelope) => string,
  ): ApplyResult {
    return this.applyInTransaction([{ events, meta, where }])[0];
  }

  /** The body of `applyChecked`, inside a transaction the caller holds (see `applyInTransaction`). */
  private checkAndStore({
    events,
    bodies,
    idsChecked,
    meta,
    where = () => 'append',
  }: ApplyBatch): ApplyResult {
    const heads = new Map<string, StreamHead | undefined>();
    const batchHashes = new Map<string, string>();
    const batchIds = new Set<string>();
    const accepted: EventEnvelope[] = [];
    const acceptedBodies: string[] = [];
    const rejected: EventEnvelope[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const head = heads.has(event.runId) ? heads.get(event.runId) : this.log.head(event.runId);
      const headSeq = head?.seq ?? 0;
      if (event.seq <= headSeq) {
        const stored =
          batchHashes.get(`${event.runId}\u0000${event.seq}`) ??
          this.hashAt.get(event.runId, event.seq)?.hash;
        if (stored !== event.hash) {
          this.emit(
            `[kafka-event-store] split-brain write: run ${event.runId} seq ${event.seq} is stored with hash ${stored}, ` +
              `but ${where(event)} carries ${event.hash}; keeping the first`,
          );
          rejected.push(event);
        }
        continue;
      }
      if (event.seq !== headSeq + 1 || event.prevHash !== (head?.hash ?? GENESIS_HASH)) {
        this.emit(
          `[kafka-event-store] ${where(event)}: run ${event.runId} seq ${event.seq} does not extend the stored chain ` +
            `(head seq ${headSeq}); skipped`,
        );
        rejected.push(event);
        continue;
      }
      const idKey = `${event.runId}\u0000${event.eventId}`;
      if (
        batchIds.has(idKey) ||
        (!idsChecked && this.log.findByEventIds(event.runId, [event.eventId]).length > 0)
      ) {
        // The same fact under a second seq (two writers, or a retry produced after a lost ack):
        // every instance meets it at the same offset and skips it alike.
        this.emit(
          `[kafka-event-store] ${where(event)}: run ${event.runId} seq ${event.seq} repeats event id ${event.eventId}, ` +
            'already stored; skipped',
        );
        rejected.push(event);
        continue;
      }
      batchIds.add(idKey);
      accepted.push(event);
      if (bodies) acceptedBodies.push(bodies[i]);
      heads.set(event.runId, { seq: event.seq, hash: event.hash });
      batchHashes.set(`${event.runId}\u0000${event.seq}`, event.hash);
    }
    const stored = this.log.applyOnceInTransaction(accepted, meta, bodies ? acceptedBodies : undefined);
    return { applied: stored.length, stored, rejected };
  }

  async append(runId: string, expectedSeq: number, events: NewEvent[]): Promise<EventEnvelope[]> {
    this.assertOpen();
    if (events.length === 0) return [];
    this.assertReachable();
    return this.withRunLock(runId, async () => {
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
      const { rejected } = await this.produce(runId, sealed, true);
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
    await this.withRunLock(runId, async () => {
      this.assertReachable();
      await this.settleUncertain(runId);
      const head = this.log.head(runId);
      if (head) throw new ConcurrencyError(runId, 0, head.seq);
      const { rejected } = await this.produce(runId, events);
      if (rejected.length > 0) throw new ConcurrencyError(runId, 0, this.log.head(runId)?.seq ?? 0);
    });
  }

  /**
   * One `send` of the whole batch (one key, one partition, one record batch), acks from all in-sync
   * replicas, one send at a time.
   *
   * Why one at a time, and why a failed send retires the producer: kafkajs' idempotent producer
   * numbers each partition's batches and, when a send fails, gives its sequence number back. If the
   * failed batch did reach the log (its ack was lost: the broker was stopped or killed right after
   * writing it), the next batch sent to that partition under the same producer id reuses that
   * number, and the broker, which dedupes by (producer id, partition, sequence) alone, answers it
   * as a duplicate: acknowledged, never written. A lost acknowledged event. So no other send may
   * take a number while one is failing (the lane), and after a failure the next send goes through
   * a new producer (a new producer id, numbered from 0).
   */
  private produce(
    runId: string,
    events: EventEnvelope[],
    idsChecked = false,
  ): Promise<{ rejected: EventEnvelope[] }> {
    const values = events.map((e) => JSON.stringify(e));
    const bytes = values.reduce((sum, v) => sum + v.length, 0);
    return new Promise((resolve, reject) => {
      this.sendQueue.push({ runId, events, values, bytes, idsChecked, resolve, reject });
      if (!this.sending) void this.drainSends();
    });
  }

  /**
   * Group commit, in the lane: while one send is in flight, the appends that arrive queue up, and
   * the next send carries all of them (up to MAX_GROUP_RECORDS / MAX_GROUP_BYTES): one Produce
   * request, one record batch per partition. One run at a time, a send carries one append, as
   * before; with many runs appending at once, each waits for at most one send ahead of its own
   * instead of one per run. Every append of a failed send has an unknown outcome (see `produceNow`).
   */
  private async drainSends(): Promise<void> {
    this.sending = true;
    try {
      while (this.sendQueue.length > 0) {
        const group: QueuedSend[] = [];
        let records = 0;
        let bytes = 0;
        while (this.sendQueue.length > 0) {
          const next = this.sendQueue[0];
          if (
            group.length > 0 &&
            (records + next.events.length > MAX_GROUP_RECORDS || bytes + next.bytes > MAX_GROUP_BYTES)
          )
            break;
          group.push(this.sendQueue.shift()!);
          records += next.events.length;
          bytes += next.bytes;
        }
        this.sends.sends += 1;
        this.sends.appends += group.length;
        this.sends.records += records;
        const inFlight = (this.sendInFlight = new SendInFlight(group));
        let outcomes: Array<Error | { rejected: EventEnvelope[] }>;
        try {
          outcomes = await this.produceNow(group);
        } finally {
          this.sendInFlight = undefined;
          inFlight.end();
        }
        group.forEach((item, i) => {
          const outcome = outcomes[i];
          if (outcome instanceof Error) item.reject(outcome);
          else item.resolve(outcome);
        });
      }
    } finally {
      this.sending = false;
    }
  }

  /**
   * One send of a group of appends, then (acknowledged) one local transaction applying all of them,
   * and the subscribers notified. Returns, per append, its error or the events the local store
   * rejected (another writer's events got there first).
   */
  private async produceNow(group: QueuedSend[]): Promise<Array<Error | { rejected: EventEnvelope[] }>> {
    const everyone = (error: Error): Error[] => group.map(() => error);
    try {
      this.assertReachable(); // queued behind a send that just failed: refuse, nothing was sent
    } catch (error) {
      return everyone(error as Error);
    }
    const producer = this.producer;
    if (!this.producerConnected) {
      try {
        await producer.connect();
        this.producerConnected = true;
      } catch (error) {
        // Nothing was sent: a refusal, not an unknown outcome.
        if (isUnreachableError(error)) this.reachability.fail('producer connect', error);
        this.retireProducer(producer);
        return everyone(this.unavailable(`could not connect the producer: ${(error as Error).message}`));
      }
    }
    const started = Date.now();
    const partitions = group.map(({ runId }) => this.partitionOf(runId));
    let acknowledged: RecordMetadata[];
    try {
      acknowledged = await producer.send({
        topic: this.topic,
        acks: -1,
        messages: group.flatMap(({ runId, events, values }, g) =>
          events.map((e, i) => ({
            key: runId,
            partition: partitions[g],
            value: values[i],
            headers: {
              'parley-type': e.type,
              'parley-seq': String(e.seq),
              'parley-event-id': e.eventId,
              'parley-hash': e.hash,
            },
          })),
        ),
      });
      this.reachability.ok();
    } catch (error) {
      for (const { runId } of group) this.uncertain.add(runId);
      this.retireProducer(producer);
      if (isUnreachableError(error)) this.reachability.fail('produce', error, started);
      return group.map(
        ({ runId, events }) =>
          new ParleyError(
            'EVENT_STORE.UNAVAILABLE',
            `Could not write ${events.length} event(s) of run ${runId} to Kafka topic ${this.topic}: ${(error as Error).message}. ` +
              'They may or may not have been stored; read the run again before retrying.',
            'unavailable',
            undefined,
            { runId },
          ),
      );
    }
    return this.applyAcknowledged(group, partitions, acknowledged);
  }

  /**
   * Apply an acknowledged group to the local store in one transaction (one commit for all its
   * appends), notify the subscribers, and remember where its records are in the topic.
   */
  private applyAcknowledged(
    group: QueuedSend[],
    partitions: Array<number | undefined>,
    acknowledged: RecordMetadata[],
  ): Array<Error | { rejected: EventEnvelope[] }> {
    let results: ApplyResult[];
    try {
      results = this.applyInTransaction(
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
    this.rememberOwnRecords(group, partitions, acknowledged, results);
    return results.map(({ rejected }) => ({ rejected }));
  }

  /**
   * The offsets of the records of an acknowledged, applied group (each partition's batch starts at
   * its `baseOffset`, in the order sent), with their hashes: the consumer reading them back skips
   * them without looking them up. Only where the consumer has not passed yet.
   */
  private rememberOwnRecords(
    group: QueuedSend[],
    partitions: Array<number | undefined>,
    acknowledged: RecordMetadata[],
    results: ApplyResult[],
  ): void {
    const next = new Map<number, number>();
    for (const m of acknowledged)
      if (m.topicName === this.topic && m.baseOffset !== undefined)
        next.set(m.partition, Number(m.baseOffset));
    group.forEach(({ events }, g) => {
      const partition = partitions[g];
      if (partition === undefined) return;
      const offset = next.get(partition);
      if (offset === undefined || !Number.isSafeInteger(offset)) return;
      next.set(partition, offset + events.length);
      if (results[g].rejected.length > 0) return; // the consumer meets them as any other record
      if (offset < (this.consumed.get(partition) ?? 0)) return;
      let own = this.ownRecords.get(partition);
      if (!own) this.ownRecords.set(partition, (own = new Map()));
      if (own.size >= MAX_OWN_RECORDS) return; // the consumer is far behind: it looks them up
      events.forEach((e, i) => own.set(offset + i, e.hash));
    });
  }

  /** The partition of a run's records: murmur2 of the key, as Java clients (kafkajs's default). */
  private partitionOf(runId: string): number | undefined {
    if (this.partitionMetadata.length === 0) return undefined; // kafkajs's partitioner decides
    return this.partitioner({
      topic: this.topic,
      partitionMetadata: this.partitionMetadata as never,
      message: { key: runId, value: null },
    });
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // murmur2 of the key, as Java clients
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 3000 },
    });
  }

  /** The next send uses a new producer (a new producer id): see `produce`. */
  private retireProducer(producer: Producer): void {
    if (this.producer !== producer || this.closing) return;
    this.producer = this.newProducer();
    this.producerConnected = false;
    this.producersRetired += 1;
    void producer.disconnect().catch(() => undefined);
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
    return { ...this.reachability.snapshot(), producersRetired: this.producersRetired };
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
    if (change.reachable)
      this.emit(
        `[kafka-event-store] the event log is reachable again after ${change.downMs} ms (${this.config.brokers.join(',')})`,
      );
    else
      this.emit(
        `[kafka-event-store] the event log is UNREACHABLE (${this.config.brokers.join(',')}): ${change.error}; new work is refused until it answers`,
      );
  }

  /** After a produce with an unknown outcome, wait until whatever landed is in the local store. */
  private async settleUncertain(runId: string): Promise<void> {
    if (!this.uncertain.has(runId)) return;
    await this.waitForCatchUp();
    this.uncertain.delete(runId);
  }

  private withRunLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.runLocks.get(runId) ?? Promise.resolve();
    const result = previous.then(fn);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.runLocks.set(runId, done);
    this.inflight.add(done);
    void done.then(() => {
      this.inflight.delete(done);
      if (this.runLocks.get(runId) === done) this.runLocks.delete(runId);
    });
    return result;
  }

  /**
   * What the consumer has done since this instance opened: records read from the topic, events
   * they added to the local store, duplicates ignored, records rejected (split brain / unlinked),
   * undecodable records skipped. Appends applied directly are not counted.
   */
  stats(): {
    recordsConsumed: number;
    eventsApplied: number;
    duplicates: number;
    rejected: number;
    badRecords: number;
  } {
    return { ...this.counters };
  }

  /** Sends made since this instance opened (group commit: appends and records per send). */
  sendStats(): { sends: number; appends: number; records: number } {
    return { ...this.sends };
  }

  /** Next offset to read per partition, as stored in the local store. */
  offsets(): Record<number, number> {
    return Object.fromEntries(this.consumed);
  }

  /**
   * Resolves once the local store has applied every record up to the topic's high watermarks as
   * they are at the time of the call (other instances' writes included).
   */
  async waitForCatchUp(timeoutMs = this.config.catchUpTimeoutMs ?? 120_000): Promise<void> {
    this.assertOpen();
    if (this.consumerError) throw this.consumerError;
    const offsets = await this.highWatermarks();
    const targets = new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    if (this.isCaughtUp(targets)) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: CatchUpWaiter = {
        targets,
        resolve,
        reject,
        timer: setTimeout(() => {
          const behind = [...targets]
            .filter(([p, t]) => (this.consumed.get(p) ?? t.low) < t.high)
            .map(([p, t]) => `${p}: ${this.consumed.get(p) ?? t.low}/${t.high}`);
          this.settle(
            waiter,
            new Error(
              `${this.topic} not caught up after ${timeoutMs} ms (partition: next/high ${behind.join(', ')})`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** `fetchTopicOffsets`, retrying what kafkajs's admin does not (a leader moving or just elected). */
  private async highWatermarks(): Promise<Array<{ partition: number; high: string; low: string }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.admin.fetchTopicOffsets(this.topic);
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || attempt >= 50 || this.closing) throw error;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * attempt)));
      }
    }
  }

  private isCaughtUp(targets: CatchUpWaiter['targets']): boolean {
    for (const [partition, { low, high }] of targets) {
      if ((this.consumed.get(partition) ?? low) < high) return false;
    }
    return true;
  }

  private checkWaiters(): void {
    for (const waiter of [...this.waiters]) if (this.isCaughtUp(waiter.targets)) this.settle(waiter);
  }

  private settle(waiter: CatchUpWaiter, error?: Error): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  async close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.reachability.stop();
    for (const waiter of [...this.waiters])
      this.settle(waiter, new Error('the Kafka event store was closed'));
    await Promise.allSettled([...this.inflight]);
    const quietly = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        this.debug(`close: ${what} failed: ${(error as Error).message}`);
      }
    };
    if (this.consumerStarted) await quietly('consumer disconnect', () => this.consumer.disconnect());
    if (this.producerConnected) await quietly('producer disconnect', () => this.producer.disconnect());
    if (this.adminConnected) {
      if (this.consumerStarted)
        await quietly(`delete group ${this.groupId}`, () => this.admin.deleteGroups([this.groupId]));
      await quietly('admin disconnect', () => this.admin.disconnect());
    } else {
      await quietly('admin disconnect', () => this.admin.disconnect());
    }
    this.subscriptions.closeAll();
    this.saveOffsets();
    clearTimeout(this.offsetsTimer);
    this.log.close();
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the Kafka event store is closed');
  }

  private kafkaLog({ level, namespace, log }: LogEntry): void {
    if (this.closing && level > logLevel.ERROR) return;
    // Known and deliberate: retries are bounded so that `append` fails (uncertain, see above)
    // instead of hanging through a long outage.
    if (log.message.startsWith('Limiting retries for the idempotent producer')) return;
    // A just-created topic's partitions answer NOT_LEADER for a moment; ensureTopic retries it.
    if (this.creatingTopic && namespace === 'Connection' && String(log.error).includes('not the leader'))
      return;
    // While the brokers are known to be unreachable, one line said so (reportReachability); kafkajs
    // would add a few connection errors a second until they are back.
    if (!this.reachability.isReachable() && (namespace === 'Connection' || namespace === 'BrokerPool'))
      return;
    const { message, ...rest } = log;
    delete (rest as Record<string, unknown>).timestamp;
    delete (rest as Record<string, unknown>).logger;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    this.emit(`[kafkajs ${LEVELS[level] ?? level} ${namespace}] ${message}${extra}`);
  }

  private debug(line: string): void {
    if (process.env.PARLEY_KAFKA_DEBUG) this.emit(`[kafka-event-store] ${line}`);
  }
}
