import { randomUUID } from 'node:crypto';
import type { Admin, LogEntry } from 'kafkajs';
import { ParleyError, type ErrorCode } from '@parley/contracts';
import {
  createKafka,
  ensureTopics,
  kafkajs,
  kafkaLogger,
  minInsyncOf,
  replicationFor,
  replicationWarning,
} from '@parley/event-store';
import type { LiveToken } from '../core/live-tokens';
import { quietly, type ClusterContext, type KafkaClusterConfig } from './cluster-context';
import type { CommandRecord, ReplyRecord, WireError } from './cluster-messages';
import { RoutedCommands, type CommandExecutor } from './command-executor';
import { CommandTransport } from './command-transport';
import { OwnersGroup } from './owners-group';
import { partitionOf, type Ownership } from './ownership';
import { TokenRelay } from './token-relay';

export type { KafkaClusterConfig } from './cluster-context';
export type { CommandExecutor } from './command-executor';

export interface ClusterHooks {
  execute: CommandExecutor;
  /** After an assignment, once caught up with the log: drive what we now own. */
  gained: (partitions: number[]) => Promise<void> | void;
  /** Partitions we no longer own: stop driving their runs (ownership already says no). */
  lost: (partitions: number[]) => Promise<void> | void;
  /** Tokens streamed by another instance's engine. */
  remoteTokens: (tokens: LiveToken[]) => void;
}

/**
 * Several Parley instances on one Kafka cluster, a facade over its parts:
 *
 * - Ownership (`OwnersGroup`): a consumer group `<prefix>-owners` reads `<prefix>.commands`, a topic
 *   with as many partitions as `<prefix>.run-events` and keyed the same way (runId, murmur2), so the
 *   partitions assigned to an instance name the runs it owns: it alone drives them and takes their
 *   commands.
 * - Routing (`CommandTransport`, `RoutedCommands`): a command for a run owned elsewhere is produced
 *   to `<prefix>.commands` (key runId); the owner runs it and produces the reply to
 *   `<prefix>.replies`, which every instance reads with its own group, matching the commandId.
 * - Tokens (`TokenRelay`): the owner's engine streams tokens to `<prefix>.tokens` (acks=1, short
 *   retention), so watchers on every instance get them.
 */
export class KafkaCluster implements Ownership {
  readonly mode = 'kafka' as const;
  readonly commandsTopic: string;
  readonly repliesTopic: string;
  readonly tokensTopic: string;
  readonly groupId: string;
  readonly instanceId: string;
  partitions = 0;

  private readonly ctx: ClusterContext;
  private readonly admin: Admin;
  private readonly owners: OwnersGroup;
  private readonly transport: CommandTransport;
  private readonly commands: RoutedCommands;
  private readonly tokens: TokenRelay;
  private hooks?: ClusterHooks;
  private closing = false;

  private constructor(private readonly config: KafkaClusterConfig) {
    this.instanceId = config.instanceId;
    const kafka = createKafka(
      `${config.instanceId}-cluster`,
      config.brokers,
      kafkaLogger(config.warn, (entry) => this.quiet(entry), 'cluster'),
    );
    this.admin = kafka.admin();
    this.ctx = {
      config,
      nodeId: `${config.instanceId}/${randomUUID().slice(0, 8)}`,
      producer: kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
      }),
      closing: () => this.closing,
      debug: (line) => {
        if (config.debug) config.log(`[cluster] ${line}`);
      },
    };
    this.tokens = new TokenRelay(this.ctx, () => this.hooks && ((t) => this.hooks!.remoteTokens(t)));
    this.transport = new CommandTransport(this.ctx, kafka, this.tokens.topic);
    this.commandsTopic = this.transport.commandsTopic;
    this.repliesTopic = this.transport.repliesTopic;
    this.tokensTopic = this.tokens.topic;
    this.owners = new OwnersGroup(this.ctx, kafka, this.commandsTopic, () => this.partitions);
    this.groupId = this.owners.groupId;
    this.commands = new RoutedCommands(
      this.ctx,
      this.transport,
      {
        owns: (runId) => this.owns(runId),
        stable: () => this.owners.stable,
        settled: (ms) => this.settled(ms),
      },
      () => this.hooks?.execute,
    );
  }

  /** Connect and create the topics (commands with the run-events topic's partition count). */
  static async create(config: KafkaClusterConfig): Promise<KafkaCluster> {
    const cluster = new KafkaCluster(config);
    await cluster.admin.connect();
    const md = await cluster.admin.fetchTopicMetadata({ topics: [config.runEventsTopic] });
    cluster.partitions = md.topics[0]?.partitions.length ?? 0;
    if (!cluster.partitions) throw new Error(`topic ${config.runEventsTopic} has no partitions`);
    const replication = await replicationFor(cluster.admin, config.replicationFactor);
    const { partitions } = await ensureTopics(cluster.admin, [
      cluster.topic(cluster.commandsTopic, cluster.partitions, '3600000', replication),
      cluster.topic(cluster.repliesTopic, 1, '600000', replication),
    ]);
    // Tokens are a live view (acks=1, a minute of retention): losing some is harmless.
    await ensureTopics(cluster.admin, [cluster.topic(cluster.tokensTopic, 1, '60000', replication)]);
    for (const topic of [cluster.commandsTopic, cluster.repliesTopic]) {
      const warning = replicationWarning(
        topic,
        partitions.get(topic) ?? [],
        await minInsyncOf(cluster.admin, topic),
      );
      if (warning) config.warn(`[cluster] ${warning}`);
    }
    const commandPartitions = partitions.get(cluster.commandsTopic)?.length ?? 0;
    if (commandPartitions !== cluster.partitions) {
      throw new ParleyError(
        'CLUSTER.PARTITIONS_MISMATCH',
        `topic ${cluster.commandsTopic} has ${commandPartitions} partitions but ${config.runEventsTopic} has ${cluster.partitions}; they must match (ownership is by partition)`,
        'unavailable',
      );
    }
    await cluster.ctx.producer.connect();
    return cluster;
  }

  private topic(
    topic: string,
    numPartitions: number,
    retentionMs: string,
    replication: { factor: number; minInsync: number },
  ) {
    return {
      topic,
      numPartitions,
      replicationFactor: replication.factor,
      configEntries: [
        { name: 'retention.ms', value: retentionMs },
        { name: 'min.insync.replicas', value: String(replication.minInsync) },
      ],
    };
  }

  partitionOf(runId: string): number {
    return partitionOf(runId, this.partitions);
  }

  owns(runId: string): boolean {
    return this.owners.ownsPartition(this.partitionOf(runId));
  }

  onGained(listener: () => void): () => void {
    return this.owners.onGained(listener);
  }

  ownedPartitions(): number[] {
    return this.owners.ownedPartitions();
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
      commands: { sent: this.transport.sent, ran: this.commands.ran },
      instanceId: this.instanceId,
      group: this.groupId,
      partitions: this.partitions,
      owned: this.ownedPartitions(),
      stable: this.owners.stable,
      generation: this.owners.generation,
    };
  }

  /** Resolves when no rebalance is in progress (or after `timeoutMs`). */
  settled(timeoutMs: number): Promise<void> {
    return this.owners.settled(timeoutMs);
  }

  /** Join the owners' group and read replies and tokens; resolves once both are live (bounded). */
  async start(hooks: ClusterHooks): Promise<void> {
    this.hooks = hooks;
    await this.transport.start((message) => this.tokens.received(message));
    await this.owners.start({
      gained: hooks.gained,
      lost: hooks.lost,
      command: (partition, message, heartbeat) => this.commands.onCommand(partition, message, heartbeat),
    });
    // A member killed a moment ago holds the group until its session times out.
    const timeoutMs = 2 * this.config.sessionTimeoutMs + 5000;
    await this.settled(timeoutMs);
    if (!this.owners.stable)
      this.config.warn(
        `[cluster] no assignment from group ${this.groupId} after ${timeoutMs} ms; commands wait for it`,
      );
  }

  /** Produce a command for the run's owner and wait for its reply (until `deadline`, epoch ms). */
  send(record: Omit<CommandRecord, 'from'>): Promise<ReplyRecord> {
    return this.transport.send(record);
  }

  /** Tokens of runs driven here, batched for a few ms, for the watchers on other instances. */
  publishToken(token: LiveToken): void {
    this.tokens.publish(token);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.owners.release();
    this.tokens.close();
    this.transport.failPending();
    await quietly(() => this.owners.disconnect()); // leaves the group: the others take our runs at once
    await quietly(() => this.transport.disconnect());
    await quietly(() => this.admin.deleteGroups([this.transport.inboxGroup]));
    await quietly(() => this.ctx.producer.disconnect());
    await quietly(() => this.admin.disconnect());
  }

  /** kafkajs log entries not worth a line. */
  private quiet({ namespace, log }: LogEntry): boolean {
    if (this.closing) return true;
    // Rebalances are the normal life of the owners' group; they are reported by GROUP_JOIN.
    if (/rebalancing|re-joining|not aware of this member/i.test(log.message)) return true;
    return (
      this.owners.joins === 0 && namespace === 'Connection' && String(log.error).includes('not the leader')
    );
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
