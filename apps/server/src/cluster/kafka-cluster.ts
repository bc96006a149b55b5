import { randomUUID } from 'node:crypto';
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaMessage,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import { ParleyError, type ErrorCode } from '@parley/contracts';
import { createKafka, restartWhenStopped, type KafkaEventStore } from '@parley/event-store';
import type { LiveToken } from '../core/live-tokens';
import { CommandRecord, ReplyRecord, TokensRecord, type WireError } from './cluster-messages';
import { partitionOf, type Ownership } from './ownership';

export interface KafkaClusterConfig {
  brokers: string[];
  instanceId: string;
  /** `<prefix>.run-events` (the store's), `.commands`, `.replies`, `.tokens`; group `<prefix>-owners`. */
  prefix: string;
  store: KafkaEventStore;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  log: (line: string) => void;
  warn: (line: string) => void;
}

/** Runs one command received from the commands topic on this (the owning) instance. */
export type CommandExecutor = (record: CommandRecord) => Promise<unknown>;

export interface ClusterHooks {
  execute: CommandExecutor;
  /** After an assignment, once caught up with the log: drive what we now own. */
  gained: (partitions: number[]) => Promise<void> | void;
  /** Partitions we no longer own: stop driving their runs (ownership already says no). */
  lost: (partitions: number[]) => Promise<void> | void;
  /** Tokens streamed by another instance's engine. */
  remoteTokens: (tokens: LiveToken[]) => void;
}

interface PendingReply {
  resolve: (reply: ReplyRecord) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const TOKEN_FLUSH_MS = 25;
const HANDLED_KEPT = 2000;

/**
 * Several Parley instances on one Kafka cluster.
 *
 * - Ownership: a consumer group `<prefix>-owners` reads `<prefix>.commands`, a topic with as many
 *   partitions as `<prefix>.run-events` and keyed the same way (runId, murmur2), so the partitions
 *   assigned to an instance name the runs it owns: it alone drives them and takes their commands.
 *   An assignment counts once the local store has caught up with the log (the previous owner's
 *   last events included); a rebalance (REBALANCING, STOP, CRASH) clears it before this instance
 *   rejoins, so no two instances own a partition at once, barring a stalled instance the broker
 *   evicted (see docs/ARCHITECTURE.md).
 * - Routing: a command for a run owned elsewhere is produced to `<prefix>.commands` (key runId);
 *   the owner runs it and produces the reply to `<prefix>.replies`, which every instance reads with
 *   its own group, matching the commandId.
 * - Tokens: the owner's engine streams tokens to `<prefix>.tokens` (acks=1, short retention), so
 *   watchers on every instance get them.
 */
export class KafkaCluster implements Ownership {
  readonly mode = 'kafka' as const;
  readonly commandsTopic: string;
  readonly repliesTopic: string;
  readonly tokensTopic: string;
  readonly groupId: string;
  readonly instanceId: string;
  /** Addresses replies and tags tokens: unique per process even if two instances were given one id. */
  private readonly nodeId: string;
  partitions = 0;

  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly owners: Consumer;
  private readonly inbox: Consumer;
  private readonly inboxGroup: string;
  private hooks?: ClusterHooks;

  /** Partitions of the current generation, owned once caught up. */
  private assigned = new Set<number>();
  private owned = new Set<number>();
  private generation = 0;
  private stable = false;
  private readonly stableWaiters = new Set<() => void>();
  private readonly gainedListeners = new Set<() => void>();
  private readonly pending = new Map<string, PendingReply>();
  /** Replies of commands run here, by commandId: a redelivered or resent command is answered again, not run again. */
  private readonly handled = new Map<string, Promise<ReplyRecord>>();
  private tokenBuffer: LiveToken[] = [];
  private tokenTimer?: NodeJS.Timeout;
  private closing = false;
  private joins = 0;
  private lastJoinAt = 0;
  /** Commands this instance sent to an owner elsewhere, and commands it ran for another instance. */
  private readonly counters = { sent: 0, ran: 0 };

  private constructor(private readonly config: KafkaClusterConfig) {
    this.instanceId = config.instanceId;
    this.nodeId = `${config.instanceId}/${randomUUID().slice(0, 8)}`;
    this.commandsTopic = `${config.prefix}.commands`;
    this.repliesTopic = `${config.prefix}.replies`;
    this.tokensTopic = `${config.prefix}.tokens`;
    this.groupId = `${config.prefix}-owners`;
    this.inboxGroup = `${config.prefix}-inbox-${config.instanceId}-${randomUUID()}`;
    this.kafka = createKafka(`${config.instanceId}-cluster`, config.brokers, (entry) => this.kafkaLog(entry));
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.owners = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      rebalanceTimeout: Math.max(config.sessionTimeoutMs, 10_000),
      heartbeatInterval: config.heartbeatIntervalMs,
      maxWaitTimeInMs: Math.min(1000, config.heartbeatIntervalMs),
      allowAutoTopicCreation: false,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async () => !this.closing,
      },
    });
    this.inbox = this.kafka.consumer({
      groupId: this.inboxGroup,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async () => !this.closing,
      },
    });
  }

  /** Connect and create the topics (commands with the run-events topic's partition count). */
  static async create(config: KafkaClusterConfig): Promise<KafkaCluster> {
    const cluster = new KafkaCluster(config);
    await cluster.admin.connect();
    const md = await cluster.admin.fetchTopicMetadata({ topics: [config.store.topic] });
    cluster.partitions = md.topics[0]?.partitions.length ?? 0;
    if (!cluster.partitions) throw new Error(`topic ${config.store.topic} has no partitions`);
    await cluster.ensureTopic(cluster.commandsTopic, cluster.partitions, '3600000', true);
    await cluster.ensureTopic(cluster.repliesTopic, 1, '600000', false);
    await cluster.ensureTopic(cluster.tokensTopic, 1, '60000', false);
    await cluster.producer.connect();
    return cluster;
  }

  // ---------------------------------------------------------------------------------------------
  // Ownership
  // ---------------------------------------------------------------------------------------------

  partitionOf(runId: string): number {
    return partitionOf(runId, this.partitions);
  }

  owns(runId: string): boolean {
    return this.stable && this.owned.has(this.partitionOf(runId));
  }

  onGained(listener: () => void): () => void {
    this.gainedListeners.add(listener);
    return () => this.gainedListeners.delete(listener);
  }

  ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  status(): {
    instanceId: string;
    group: string;
    partitions: number;
    owned: number[];
    stable: boolean;
    generation: number;
    commands: { sent: number; ran: number };
  } {
    return {
      commands: { ...this.counters },
      instanceId: this.instanceId,
      group: this.groupId,
      partitions: this.partitions,
      owned: this.ownedPartitions(),
      stable: this.stable,
      generation: this.generation,
    };
  }

  /** Resolves when no rebalance is in progress (or after `timeoutMs`). */
  settled(timeoutMs: number): Promise<void> {
    if (this.stable || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.stableWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.stableWaiters.add(done);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Start and stop
  // ---------------------------------------------------------------------------------------------

  /** Join the owners' group and read replies and tokens; resolves once both are live (bounded). */
  async start(hooks: ClusterHooks): Promise<void> {
    this.hooks = hooks;
    await this.startInbox();
    await this.ping(15_000);
    await this.startOwners();
    // A member killed a moment ago holds the group until its session times out.
    const timeoutMs = 2 * this.config.sessionTimeoutMs + 5000;
    await this.settled(timeoutMs);
    if (!this.stable)
      this.config.warn(
        `[cluster] no assignment from group ${this.groupId} after ${timeoutMs} ms; commands wait for it`,
      );
  }

  private async startOwners(): Promise<void> {
    const { events } = this.owners;
    this.owners.on(events.GROUP_JOIN, (e) => {
      const partitions = e.payload.memberAssignment[this.commandsTopic] ?? [];
      void this.joined(new Set(partitions));
    });
    this.owners.on(events.REBALANCING, () => this.unsettle('rebalancing'));
    this.owners.on(events.STOP, () => this.unsettle('stopped'));
    this.owners.on(events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart: boolean };
      this.config.warn(
        `[cluster] owners consumer crashed (${restart ? 'restarting' : 'stopped'}): ${error.message}`,
      );
      this.unsettle('crashed');
    });
    await this.owners.connect();
    // From the beginning for a new group: a command sent before any owner joined still runs (if its
    // deadline has not passed). The group's committed offsets resume it afterwards.
    await this.owners.subscribe({ topics: [this.commandsTopic], fromBeginning: true });
    const run = () =>
      this.owners.run({
        autoCommit: true,
        autoCommitThreshold: 1,
        partitionsConsumedConcurrently: Math.max(1, Math.min(this.partitions, 8)),
        eachMessage: async ({ partition, message, heartbeat }) => {
          if (this.closing) return;
          await this.onCommand(partition, message, heartbeat);
        },
      });
    // A consumer kafkajs gave up on (a broker shutting down answers FindCoordinator with an error it
    // does not retry) would leave this instance owning nothing, for good.
    await this.runKeptAlive(this.owners, run, 'owners');
  }

  private async startInbox(): Promise<void> {
    await this.inbox.connect();
    await this.inbox.subscribe({ topics: [this.repliesTopic, this.tokensTopic], fromBeginning: false });
    const run = () =>
      this.inbox.run({
        eachMessage: async ({ topic, message }) => {
          if (this.closing || !message.value) return;
          if (topic === this.repliesTopic) this.onReply(message);
          else this.onTokens(message);
        },
      });
    await this.runKeptAlive(this.inbox, run, 'replies');
  }

  /** Run a consumer, and run it again whenever kafkajs stops it for good (see `restartWhenStopped`). */
  private async runKeptAlive(consumer: Consumer, run: () => Promise<void>, name: string): Promise<void> {
    restartWhenStopped(
      consumer,
      async () => {
        await consumer.connect();
        await run();
      },
      { closing: () => this.closing, log: this.config.warn, name },
    );
    await run();
  }

  /** A reply to ourselves proves the inbox consumer is positioned: no reply can be missed after it. */
  private async ping(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const commandId = `ping:${randomUUID()}`;
      const got = new Promise<ReplyRecord>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(commandId);
          reject(new Error('no ping'));
        }, 500);
        this.pending.set(commandId, { resolve, reject, timer });
      });
      await this.sendReply({
        ok: true,
        commandId,
        to: this.nodeId,
        by: this.nodeId,
        result: null,
        runId: '',
        headSeq: 0,
      });
      try {
        await got;
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`the replies topic ${this.repliesTopic} did not echo within ${timeoutMs} ms`);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.unsettle('closing');
    for (const resolve of [...this.stableWaiters]) resolve();
    clearTimeout(this.tokenTimer);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ParleyError('CLUSTER.OWNER_UNAVAILABLE', 'this instance is shutting down', 'unavailable'));
      this.pending.delete(id);
    }
    const quietly = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch {
        // closing
      }
    };
    await quietly(() => this.owners.disconnect()); // leaves the group: the others take our runs at once
    await quietly(() => this.inbox.disconnect());
    await quietly(() => this.admin.deleteGroups([this.inboxGroup]));
    await quietly(() => this.producer.disconnect());
    await quietly(() => this.admin.disconnect());
  }

  // ---------------------------------------------------------------------------------------------
  // Assignment
  // ---------------------------------------------------------------------------------------------

  /** Nothing is owned from the moment a rebalance starts, before this instance rejoins. */
  private unsettle(why: string): void {
    this.generation += 1; // supersedes a catch-up in progress
    if (!this.stable && this.owned.size === 0) return;
    const lost = [...this.owned];
    this.stable = false;
    this.owned = new Set();
    this.debug(`ownership suspended (${why}); had ${lost.length} partitions`);
    if (lost.length)
      void Promise.resolve(this.hooks?.lost(lost)).catch((e: Error) =>
        this.config.warn(`[cluster] release: ${e.message}`),
      );
  }

  private async joined(partitions: Set<number>): Promise<void> {
    // A join without a preceding REBALANCING event (the first one, a restart) also starts from nothing.
    this.unsettle('joined');
    const generation = ++this.generation;
    this.assigned = partitions;
    const started = Date.now();
    try {
      // The previous owner's last events are in the log (acknowledged): read them before deciding anything.
      await this.config.store.waitForCatchUp();
    } catch (error) {
      this.config.warn(`[cluster] catching up after the assignment failed: ${(error as Error).message}`);
      return;
    }
    if (generation !== this.generation || this.closing) return; // superseded by another rebalance
    this.owned = new Set(partitions);
    this.stable = true;
    this.joins += 1;
    this.lastJoinAt = Date.now();
    this.config.log(
      `[cluster] ${this.instanceId} owns ${this.owned.size}/${this.partitions} partitions of ${this.commandsTopic} [${this.ownedPartitions().join(',')}] (caught up in ${Date.now() - started} ms)`,
    );
    for (const resolve of [...this.stableWaiters]) resolve();
    try {
      await this.hooks?.gained([...partitions]);
    } catch (error) {
      this.config.warn(`[cluster] taking over: ${(error as Error).message}`);
    }
    for (const listener of this.gainedListeners) {
      try {
        listener();
      } catch (error) {
        this.config.warn(`[cluster] ownership listener: ${(error as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Commands and replies
  // ---------------------------------------------------------------------------------------------

  /** Produce a command for the run's owner and wait for its reply (until `deadline`, epoch ms). */
  async send(record: Omit<CommandRecord, 'from'>): Promise<ReplyRecord> {
    const full: CommandRecord = { ...record, from: this.nodeId };
    const reply = new Promise<ReplyRecord>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(record.commandId);
          reject(
            new ParleyError(
              'CLUSTER.OWNER_UNAVAILABLE',
              `the instance owning run ${record.runId} did not answer in time; the command was not run (it expires unrun), try again`,
              'unavailable',
              undefined,
              { runId: record.runId },
            ),
          );
        },
        Math.max(0, record.deadline - Date.now()),
      );
      this.pending.set(record.commandId, { resolve, reject, timer });
    });
    // The deadline can pass while `producer.send` below still retries (brokers unreachable): the
    // rejection is then observed by the caller only later, never an unhandled rejection (which
    // would stop the process).
    reply.catch(() => undefined);
    this.counters.sent += 1;
    try {
      await this.producer.send({
        topic: this.commandsTopic,
        acks: -1,
        messages: [
          { key: record.runId, value: JSON.stringify(full), headers: { 'parley-command': record.type } },
        ],
      });
    } catch (error) {
      const pending = this.pending.get(record.commandId);
      if (pending) {
        clearTimeout(pending.timer);
        this.pending.delete(record.commandId);
      }
      throw new ParleyError(
        'CLUSTER.OWNER_UNAVAILABLE',
        `could not send the command to Kafka: ${(error as Error).message}`,
        'unavailable',
      );
    }
    return reply;
  }

  private async onCommand(
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    let record: CommandRecord;
    try {
      record = CommandRecord.parse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
    } catch (error) {
      this.config.warn(
        `[cluster] skipping a bad command at ${this.commandsTopic}/${partition}@${message.offset}: ${(error as Error).message}`,
      );
      return;
    }
    if (Date.now() > record.deadline) {
      this.debug(`command ${record.commandId} (${record.type}) expired before it ran; skipped`);
      return;
    }
    // Just assigned: wait (heartbeating) until caught up with the log, so the command sees the run as it is.
    while (!this.stable && !this.closing && Date.now() < record.deadline) {
      await this.settled(500);
      await heartbeat().catch(() => undefined);
    }
    const handled = this.handled.get(record.commandId);
    const reply = handled ?? this.run(record);
    if (!handled) {
      this.handled.set(record.commandId, reply);
      if (this.handled.size > HANDLED_KEPT) this.handled.delete(this.handled.keys().next().value!);
    }
    const answer = await reply;
    // Not run (not ours after all): a resend may find us the owner later, and must run then.
    if (!answer.ok && answer.error.code === 'CLUSTER.NOT_OWNER') this.handled.delete(record.commandId);
    await this.sendReply(answer);
  }

  private async run(record: CommandRecord): Promise<ReplyRecord> {
    const base = { commandId: record.commandId, to: record.from, by: this.nodeId };
    if (!this.owns(record.runId)) {
      return {
        ...base,
        ok: false,
        error: {
          code: 'CLUSTER.NOT_OWNER',
          message: `instance ${this.instanceId} does not own run ${record.runId}`,
          kind: 'unavailable',
        },
      };
    }
    this.counters.ran += 1;
    try {
      const result = await this.hooks!.execute(record);
      const headSeq = (await this.config.store.head(record.runId))?.seq ?? 0;
      return { ...base, ok: true, result: result ?? null, runId: record.runId, headSeq };
    } catch (error) {
      if (error instanceof ParleyError)
        return { ...base, ok: false, error: { ...error.toJSON(), kind: error.kind } };
      this.config.warn(
        `[cluster] command ${record.type} for run ${record.runId}: ${(error as Error)?.stack ?? String(error)}`,
      );
      return { ...base, ok: false, error: { code: 'INTERNAL', message: 'internal error', kind: 'internal' } };
    }
  }

  private async sendReply(reply: ReplyRecord): Promise<void> {
    try {
      await this.producer.send({
        topic: this.repliesTopic,
        acks: -1,
        messages: [{ key: reply.to, value: JSON.stringify(reply) }],
      });
    } catch (error) {
      this.config.warn(
        `[cluster] could not send the reply to ${reply.commandId}: ${(error as Error).message}`,
      );
    }
  }

  private onReply(message: KafkaMessage): void {
    let reply: ReplyRecord;
    try {
      reply = ReplyRecord.parse(JSON.parse(message.value!.toString('utf8')));
    } catch (error) {
      this.config.warn(`[cluster] skipping a bad reply: ${(error as Error).message}`);
      return;
    }
    if (reply.to !== this.nodeId) return;
    const pending = this.pending.get(reply.commandId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(reply.commandId);
    pending.resolve(reply);
  }

  // ---------------------------------------------------------------------------------------------
  // Tokens
  // ---------------------------------------------------------------------------------------------

  /** Tokens of runs driven here, batched for a few ms, for the watchers on other instances. */
  publishToken(token: LiveToken): void {
    if (this.closing) return;
    this.tokenBuffer.push(token);
    this.tokenTimer ??= setTimeout(() => void this.flushTokens(), TOKEN_FLUSH_MS);
  }

  private async flushTokens(): Promise<void> {
    this.tokenTimer = undefined;
    const tokens = this.tokenBuffer.splice(0);
    if (!tokens.length || this.closing) return;
    try {
      await this.producer.send({
        topic: this.tokensTopic,
        acks: 1,
        messages: [{ value: JSON.stringify({ from: this.nodeId, tokens }) }],
      });
    } catch (error) {
      this.debug(`tokens not sent: ${(error as Error).message}`); // tokens are live only; the final message is an event
    }
  }

  private onTokens(message: KafkaMessage): void {
    try {
      const record = TokensRecord.parse(JSON.parse(message.value!.toString('utf8')));
      if (record.from !== this.nodeId) this.hooks?.remoteTokens(record.tokens);
    } catch (error) {
      this.debug(`skipping bad tokens: ${(error as Error).message}`);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private async ensureTopic(
    topic: string,
    numPartitions: number,
    retentionMs: string,
    samePartitions: boolean,
  ): Promise<void> {
    const existing = await this.admin.listTopics();
    if (!existing.includes(topic)) {
      try {
        await this.admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic,
              numPartitions,
              replicationFactor: 1,
              configEntries: [{ name: 'retention.ms', value: retentionMs }],
            },
          ],
        });
      } catch (error) {
        if (!String((error as Error).message).includes('already exists')) throw error;
      }
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const md = await this.admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = md.topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0)) {
          await this.admin.fetchTopicOffsets(topic);
          if (samePartitions && partitions.length !== numPartitions) {
            throw new ParleyError(
              'CLUSTER.PARTITIONS_MISMATCH',
              `topic ${topic} has ${partitions.length} partitions but ${this.config.store.topic} has ${numPartitions}; they must match (ownership is by partition)`,
              'unavailable',
            );
          }
          return;
        }
      } catch (error) {
        if (error instanceof ParleyError) throw error;
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} has no partition leaders after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private kafkaLog({ level, namespace, log }: LogEntry): void {
    if (this.closing) return;
    // Rebalances are the normal life of the owners' group; they are reported by GROUP_JOIN.
    if (/rebalancing|re-joining|not aware of this member/i.test(log.message)) return;
    if (this.joins === 0 && namespace === 'Connection' && String(log.error).includes('not the leader'))
      return;
    const { message, ...rest } = log;
    delete (rest as Record<string, unknown>).timestamp;
    delete (rest as Record<string, unknown>).logger;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    this.config.warn(
      `[kafkajs ${level === logLevel.ERROR ? 'ERROR' : 'WARN'} ${namespace} cluster] ${message}${extra}`,
    );
  }

  private debug(line: string): void {
    if (process.env.PARLEY_KAFKA_DEBUG) this.config.log(`[cluster] ${line}`);
  }

  /** For logs and tests: when ownership last settled. */
  lastSettledAt(): number {
    return this.lastJoinAt;
  }
}

export function wireErrorToError(error: WireError): Error {
  if (error.kind === 'internal') return new Error(error.message);
  return new ParleyError(
    // another instance's code, passed on as it is (an instance of a newer version may know more)
    error.code as ErrorCode,
    error.message,
    error.kind as ParleyError['kind'],
    error.field,
    error.details,
  );
}
