import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { ParleyError } from '@parley/contracts';
import { consumerRetry, runKeptAlive, type ClusterContext } from './cluster-context';
import { ReplyRecord, type CommandRecord } from './cluster-messages';

interface PendingReply {
  resolve: (reply: ReplyRecord) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Commands and replies on the wire: a command for a run owned elsewhere is produced to
 * `<prefix>.commands` (key runId); the owner produces the reply to `<prefix>.replies`, which every
 * instance reads with its own group (the inbox, which also reads `<prefix>.tokens`), matching the
 * commandId.
 */
export class CommandTransport {
  readonly commandsTopic: string;
  readonly repliesTopic: string;
  /** The inbox consumer's group: this process's own, deleted at close. */
  readonly inboxGroup: string;
  private readonly inbox: Consumer;
  private readonly pending = new Map<string, PendingReply>();
  /** Commands this instance sent to an owner elsewhere. */
  sent = 0;

  constructor(
    private readonly ctx: ClusterContext,
    kafka: Kafka,
    private readonly tokensTopic: string,
  ) {
    const { prefix, instanceId } = ctx.config;
    this.commandsTopic = `${prefix}.commands`;
    this.repliesTopic = `${prefix}.replies`;
    this.inboxGroup = `${prefix}-inbox-${instanceId}-${randomUUID()}`;
    this.inbox = kafka.consumer({
      groupId: this.inboxGroup,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      retry: consumerRetry(ctx.closing),
    });
  }

  /** Read replies (and hand tokens to `onTokens`); resolves once a reply to ourselves came back. */
  async start(onTokens: (message: KafkaMessage) => void): Promise<void> {
    await this.inbox.connect();
    await this.inbox.subscribe({ topics: [this.repliesTopic, this.tokensTopic], fromBeginning: false });
    const run = () =>
      this.inbox.run({
        eachMessage: async ({ topic, message }) => {
          if (this.ctx.closing() || !message.value) return;
          if (topic === this.repliesTopic) this.onReply(message);
          else onTokens(message);
        },
      });
    await runKeptAlive(this.ctx, this.inbox, run, 'replies');
    await this.ping(15_000);
  }

  /** Produce a command for the run's owner and wait for its reply (until `deadline`, epoch ms). */
  async send(record: Omit<CommandRecord, 'from'>): Promise<ReplyRecord> {
    const full: CommandRecord = { ...record, from: this.ctx.nodeId };
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
    this.sent += 1;
    try {
      await this.ctx.producer.send({
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

  async sendReply(reply: ReplyRecord): Promise<void> {
    try {
      await this.ctx.producer.send({
        topic: this.repliesTopic,
        acks: -1,
        messages: [{ key: reply.to, value: JSON.stringify(reply) }],
      });
    } catch (error) {
      this.ctx.config.warn(
        `[cluster] could not send the reply to ${reply.commandId}: ${(error as Error).message}`,
      );
    }
  }

  /** Every command still waiting for its reply fails: this instance is shutting down. */
  failPending(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ParleyError('CLUSTER.OWNER_UNAVAILABLE', 'this instance is shutting down', 'unavailable'));
      this.pending.delete(id);
    }
  }

  disconnect(): Promise<void> {
    return this.inbox.disconnect();
  }

  private onReply(message: KafkaMessage): void {
    let reply: ReplyRecord;
    try {
      reply = ReplyRecord.parse(JSON.parse(message.value!.toString('utf8')));
    } catch (error) {
      this.ctx.config.warn(`[cluster] skipping a bad reply: ${(error as Error).message}`);
      return;
    }
    if (reply.to !== this.ctx.nodeId) return;
    const pending = this.pending.get(reply.commandId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(reply.commandId);
    pending.resolve(reply);
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
      const { nodeId } = this.ctx;
      await this.sendReply({
        ok: true,
        commandId,
        to: nodeId,
        by: nodeId,
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
}
