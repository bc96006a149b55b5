import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { consumerRetry, runKeptAlive, type ClusterContext } from './cluster-context';

export interface OwnersGroupHooks {
  /** After an assignment, once caught up with the log: drive what we now own. */
  gained: (partitions: number[]) => Promise<void> | void;
  /** Partitions we no longer own: stop driving their runs (ownership already says no). */
  lost: (partitions: number[]) => Promise<void> | void;
  /** A record of the commands topic, on a partition assigned to us. */
  command: (partition: number, message: KafkaMessage, heartbeat: () => Promise<void>) => Promise<void>;
}

/**
 * Ownership: the consumer group `<prefix>-owners` on `<prefix>.commands`. The partitions assigned to
 * this instance name the runs it owns. An assignment counts once this instance has claimed the
 * partitions' writers (which fences the previous owner at the broker: a paused process that wakes
 * up still believing it owns them can no longer append) and its local store has caught up with the
 * log (the previous owner's last events included). A rebalance (REBALANCING, STOP, CRASH) clears it
 * before this instance rejoins; a fenced writer drops its partition at once.
 */
export class OwnersGroup {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private hooks?: OwnersGroupHooks;
  /** Partitions of the current generation, owned once caught up. */
  private assigned = new Set<number>();
  private owned = new Set<number>();
  generation = 0;
  stable = false;
  private readonly stableWaiters = new Set<() => void>();
  private readonly gainedListeners = new Set<() => void>();
  joins = 0;
  lastJoinAt = 0;

  constructor(
    private readonly ctx: ClusterContext,
    kafka: Kafka,
    private readonly commandsTopic: string,
    private readonly partitions: () => number,
  ) {
    const { config } = ctx;
    this.groupId = `${config.prefix}-owners`;
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      rebalanceTimeout: Math.max(config.sessionTimeoutMs, 10_000),
      heartbeatInterval: config.heartbeatIntervalMs,
      maxWaitTimeInMs: Math.min(1000, config.heartbeatIntervalMs),
      allowAutoTopicCreation: false,
      retry: consumerRetry(ctx.closing),
    });
  }

  ownsPartition(partition: number): boolean {
    return this.stable && this.owned.has(partition);
  }

  ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  onGained(listener: () => void): () => void {
    this.gainedListeners.add(listener);
    return () => this.gainedListeners.delete(listener);
  }

  /** Resolves when no rebalance is in progress (or after `timeoutMs`). */
  settled(timeoutMs: number): Promise<void> {
    if (this.stable || this.ctx.closing()) return Promise.resolve();
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

  async start(hooks: OwnersGroupHooks): Promise<void> {
    this.hooks = hooks;
    this.ctx.config.writers.onFenced((partition) => this.fenced(partition));
    const { events } = this.consumer;
    this.consumer.on(events.GROUP_JOIN, (e) => {
      const partitions = e.payload.memberAssignment[this.commandsTopic] ?? [];
      void this.joined(new Set(partitions));
    });
    this.consumer.on(events.REBALANCING, () => this.unsettle('rebalancing'));
    this.consumer.on(events.STOP, () => this.unsettle('stopped'));
    this.consumer.on(events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart: boolean };
      this.ctx.config.warn(
        `[cluster] owners consumer crashed (${restart ? 'restarting' : 'stopped'}): ${error.message}`,
      );
      this.unsettle('crashed');
    });
    await this.consumer.connect();
    // From the beginning for a new group: a command sent before any owner joined still runs (if its
    // deadline has not passed). The group's committed offsets resume it afterwards.
    await this.consumer.subscribe({ topics: [this.commandsTopic], fromBeginning: true });
    const run = () =>
      this.consumer.run({
        autoCommit: true,
        autoCommitThreshold: 1,
        partitionsConsumedConcurrently: Math.max(1, Math.min(this.partitions(), 8)),
        eachMessage: async ({ partition, message, heartbeat }) => {
          if (this.ctx.closing()) return;
          await hooks.command(partition, message, heartbeat);
        },
      });
    // A consumer kafkajs gave up on (a broker shutting down answers FindCoordinator with an error it
    // does not retry) would leave this instance owning nothing, for good.
    await runKeptAlive(this.ctx, this.consumer, run, 'owners');
  }

  /** Own nothing, and let every `settled` waiter go (closing). */
  release(): void {
    this.unsettle('closing');
    for (const resolve of [...this.stableWaiters]) resolve();
  }

  /** Leaves the group: the others take our runs at once. */
  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }

  /** The broker refused our writes to `partition`: another instance claimed it. Own it no more. */
  private fenced(partition: number): void {
    if (!this.owned.delete(partition)) return;
    this.ctx.config.warn(
      `[cluster] ${this.ctx.config.instanceId} was fenced off partition ${partition} (another instance claimed it); its runs are released until the group assigns it here again`,
    );
    void Promise.resolve(this.hooks?.lost([partition])).catch((e: Error) =>
      this.ctx.config.warn(`[cluster] release: ${e.message}`),
    );
  }

  /** Nothing is owned from the moment a rebalance starts, before this instance rejoins. */
  private unsettle(why: string): void {
    this.generation += 1; // supersedes a catch-up in progress
    if (!this.stable && this.owned.size === 0) return;
    const lost = [...this.owned];
    this.stable = false;
    this.owned = new Set();
    this.ctx.debug(`ownership suspended (${why}); had ${lost.length} partitions`);
    if (lost.length)
      void Promise.resolve(this.hooks?.lost(lost)).catch((e: Error) =>
        this.ctx.config.warn(`[cluster] release: ${e.message}`),
      );
  }

  private async joined(partitions: Set<number>): Promise<void> {
    const { config } = this.ctx;
    // A join without a preceding REBALANCING event (the first one, a restart) also starts from nothing.
    this.unsettle('joined');
    const generation = ++this.generation;
    this.assigned = partitions;
    const started = Date.now();
    const { writers } = config;
    try {
      const gone = writers.claimedPartitions().filter((p) => !partitions.has(p));
      await writers.release(gone);
      // Claim anew even a partition held before the rebalance: another instance may have claimed it
      // meanwhile. The claim fences every earlier writer, then catches up with the partition.
      await writers.release([...partitions]);
      if (generation !== this.generation || this.ctx.closing()) return;
      await writers.claim([...partitions]);
      // The previous owners' last events are in the log (committed): read them before deciding anything.
      await config.store.waitForCatchUp();
    } catch (error) {
      config.warn(
        `[cluster] claiming or catching up after the assignment failed: ${(error as Error).message}`,
      );
      return;
    }
    if (generation !== this.generation || this.ctx.closing()) return; // superseded by another rebalance
    this.owned = new Set(partitions);
    this.stable = true;
    this.joins += 1;
    this.lastJoinAt = Date.now();
    config.log(
      `[cluster] ${config.instanceId} owns ${this.owned.size}/${this.partitions()} partitions of ${this.commandsTopic} [${this.ownedPartitions().join(',')}] (caught up in ${Date.now() - started} ms)`,
    );
    for (const resolve of [...this.stableWaiters]) resolve();
    try {
      await this.hooks?.gained([...partitions]);
    } catch (error) {
      config.warn(`[cluster] taking over: ${(error as Error).message}`);
    }
    for (const listener of this.gainedListeners) {
      try {
        listener();
      } catch (error) {
        config.warn(`[cluster] ownership listener: ${(error as Error).message}`);
      }
    }
  }
}
