import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CommandBus, type Command } from '@nestjs/cqrs';
import type { EventStore } from '@parley/event-store';
import { NotOwnerError } from '@parley/engine';
import { ForkRunCommand } from '../audit/commands/audit-commands';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { EVENT_STORE } from '../core/tokens';
import {
  ClaimRequestCommand,
  DecideRequestCommand,
  ReleaseRequestCommand,
} from '../hitl/commands/request-commands';
import { runOfRequest } from '../hitl/commands/request-commands.handlers';
import { RunsProjection } from '../projections/runs.projection';
import { StartRunCommand } from '../runs/commands/start-run.command';
import { encodeCommand } from './command-codecs';
import { wireErrorToError } from './kafka-cluster';
import { runIdForIdempotencyKey } from './ownership';
import type { CommandAbout } from '../observability/tracing/run-tracing';

/**
 * Where the REST controllers and the socket gateway send human commands. A command for a run this
 * instance owns (always, with SQLite) runs here through the CommandBus; a command for a run owned
 * by another instance goes to it through Kafka, and its answer (result or coded error) comes back
 * as if it had run here. Either way the caller's next read sees the command's events.
 */
@Injectable()
export class CommandRouter {
  constructor(
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  /** Runs `input` here or on its run's owner; answers the command's own result type. */
  async execute<T>(input: Command<T>): Promise<T> {
    // Every command appends to the log: while it is unreachable, refuse at once (503
    // EVENT_LOG.UNAVAILABLE) rather than wait for kafkajs' retries or a routed reply that cannot come.
    this.store.assertReachable();
    const command = this.prepare(input);
    // tracing on: the command's span (REST, socket.io) links to the trace of the run it is about
    await this.linkToRun(command);
    const cluster = this.core.cluster;
    const wire = cluster ? encodeCommand(command) : undefined;
    if (!cluster || !wire) return this.commands.execute(command);
    const runId = await this.runOf(command);
    const deadline = Date.now() + this.core.config.clusterCommandTimeoutMs;
    const commandId = randomUUID();
    // While the owners' group rebalances (a member joined or left, or the brokers were just back
    // from an outage) no instance owns anything: wait for the assignment (bounded by the command's
    // deadline) rather than send the command to an owner that does not exist yet.
    await cluster.settled(Math.max(0, deadline - Date.now()));
    for (;;) {
      if (cluster.owns(runId)) {
        try {
          return await this.commands.execute(command);
        } catch (error) {
          if (!(error instanceof NotOwnerError) || Date.now() >= deadline) throw error;
          await cluster.settled(Math.max(0, deadline - Date.now()));
          continue;
        }
      }
      // the caller's trace context travels with it: the owner runs it under a child span
      const traced = this.core.observability.tracing?.activeCarrier() ?? {};
      const reply = await cluster.send({ commandId, ...wire, runId, deadline, ...traced });
      if (reply.ok) {
        await this.sees(runId, reply.headSeq);
        return reply.result as T;
      }
      if (reply.error.code === 'CLUSTER.NOT_OWNER' && Date.now() < deadline) {
        // It reached an instance while ownership moved: send it again to whoever owns the run now.
        await new Promise((r) => setTimeout(r, 100));
        await cluster.settled(Math.max(0, deadline - Date.now()));
        continue;
      }
      throw wireErrorToError(reply.error);
    }
  }

  /** Ids chosen before routing: they decide which instance owns the new run. */
  private prepare<T>(command: Command<T>): Command<T> {
    if (command instanceof StartRunCommand && !command.input.runId) {
      const key = command.input.body.idempotencyKey;
      const runId = key ? runIdForIdempotencyKey(command.by.id, key) : randomUUID();
      return new StartRunCommand({ ...command.input, runId }, command.by) as unknown as Command<T>;
    }
    if (command instanceof ForkRunCommand && !command.input.newRunId)
      return new ForkRunCommand(
        { ...command.input, newRunId: randomUUID() },
        command.by,
      ) as unknown as Command<T>;
    return command;
  }

  private async linkToRun(command: object): Promise<void> {
    const tracing = this.core.observability.tracing;
    if (!tracing) return;
    const about = await commandAbout(command, (requestId) =>
      runOfRequest(this.projection, this.store, requestId),
    ).catch(() => undefined); // no such request: the command answers it
    if (about) tracing.linkCommand(about);
  }

  private async runOf(command: object): Promise<string> {
    if (command instanceof StartRunCommand) return command.input.runId!;
    if (command instanceof ForkRunCommand) return command.input.newRunId!;
    if (
      command instanceof DecideRequestCommand ||
      command instanceof ClaimRequestCommand ||
      command instanceof ReleaseRequestCommand
    ) {
      return runOfRequest(this.projection, this.store, command.input.requestId);
    }
    return (command as { input: { runId: string } }).input.runId;
  }

  /** Read-your-writes: the owner acknowledged `headSeq`; wait until this instance's store has it. */
  private async sees(runId: string, headSeq: number): Promise<void> {
    // The owner's commit is readable here once the broker has written its markers (a few ms after
    // the commit answered): catch up, and look again for a moment if the head is not there yet.
    const deadline = Date.now() + 5000;
    while (((await this.store.head(runId))?.seq ?? 0) < headSeq && Date.now() < deadline) {
      await this.store.waitForCatchUp();
      if (((await this.store.head(runId))?.seq ?? 0) >= headSeq) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * What a command is about, for its span's link to the run's trace: its catalogued name, its run
 * (none for a start: the new run's trace is under the command's span already) and, for a decision
 * or a claim, its request.
 */
export async function commandAbout(
  command: object,
  runOfRequest: (requestId: string) => Promise<string>,
): Promise<CommandAbout | undefined> {
  const name = (command as { commandName?: unknown }).commandName;
  if (typeof name !== 'string') return undefined;
  if (command instanceof StartRunCommand) return { command: name };
  if (command instanceof DecideRequestCommand || command instanceof ClaimRequestCommand) {
    const { requestId } = command.input;
    return { command: name, requestId, runId: await runOfRequest(requestId) };
  }
  const runId = (command as { input?: { runId?: unknown } }).input?.runId;
  return { command: name, runId: typeof runId === 'string' ? runId : undefined };
}
