import type { KafkaMessage } from 'kafkajs';
import { ParleyError } from '@parley/contracts';
import type { ClusterContext } from './cluster-context';
import { CommandRecord, type ReplyRecord } from './cluster-messages';
import type { CommandTransport } from './command-transport';

/** Runs one command received from the commands topic on this (the owning) instance. */
export type CommandExecutor = (record: CommandRecord) => Promise<unknown>;

const HANDLED_KEPT = 2000;

/**
 * The owner's side of a routed command: parse it, skip it when expired, wait until ownership has
 * settled, run it once (a redelivered or resent command is answered again, not run again), and reply.
 */
export class RoutedCommands {
  /** Replies of commands run here, by commandId. */
  private readonly handled = new Map<string, Promise<ReplyRecord>>();
  /** Commands this instance ran for another instance. */
  ran = 0;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly transport: CommandTransport,
    private readonly owner: {
      owns: (runId: string) => boolean;
      stable: () => boolean;
      settled: (timeoutMs: number) => Promise<void>;
    },
    private readonly execute: () => CommandExecutor | undefined,
  ) {}

  async onCommand(partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    let record: CommandRecord;
    try {
      record = CommandRecord.parse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
    } catch (error) {
      this.ctx.config.warn(
        `[cluster] skipping a bad command at ${this.transport.commandsTopic}/${partition}@${message.offset}: ${(error as Error).message}`,
      );
      return;
    }
    if (Date.now() > record.deadline) {
      this.ctx.debug(`command ${record.commandId} (${record.type}) expired before it ran; skipped`);
      return;
    }
    // Just assigned: wait (heartbeating) until caught up with the log, so the command sees the run as it is.
    while (!this.owner.stable() && !this.ctx.closing() && Date.now() < record.deadline) {
      await this.owner.settled(500);
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
    await this.transport.sendReply(answer);
  }

  private async run(record: CommandRecord): Promise<ReplyRecord> {
    const base = { commandId: record.commandId, to: record.from, by: this.ctx.nodeId };
    if (!this.owner.owns(record.runId)) {
      return {
        ...base,
        ok: false,
        error: {
          code: 'CLUSTER.NOT_OWNER',
          message: `instance ${this.ctx.config.instanceId} does not own run ${record.runId}`,
          kind: 'unavailable',
        },
      };
    }
    this.ran += 1;
    try {
      const result = await this.execute()!(record);
      const headSeq = (await this.ctx.config.store.head(record.runId))?.seq ?? 0;
      return { ...base, ok: true, result: result ?? null, runId: record.runId, headSeq };
    } catch (error) {
      if (error instanceof ParleyError)
        return { ...base, ok: false, error: { ...error.toJSON(), kind: error.kind } };
      this.ctx.config.warn(
        `[cluster] command ${record.type} for run ${record.runId}: ${(error as Error)?.stack ?? String(error)}`,
      );
      return { ...base, ok: false, error: { code: 'INTERNAL', message: 'internal error', kind: 'internal' } };
    }
  }
}
