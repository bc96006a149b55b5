import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { NotFoundError, type CommandResult } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { RunEngine, type DecisionOutcome } from '@parley/engine';
import { decideOnRun } from '../../commands/decide-on-run';
import { EVENT_STORE } from '../../core/tokens';
import { RunsProjection } from '../../projections/runs.projection';
import { PARLEY_CORE } from '../../core/core.module';
import type { ParleyCore } from '../../core/core';
import {
  ClaimRequestCommand,
  DecideRequestCommand,
  ExpireRequestCommand,
  ReleaseRequestCommand,
} from './request-commands';

/** Finds the run a request belongs to (the read model may be a moment behind the log). */
export async function runOfRequest(
  projection: RunsProjection,
  store: EventStore,
  requestId: string,
): Promise<string> {
  let summary = projection.request(requestId);
  if (!summary) {
    await projection.caughtUp(await store.lastPosition());
    summary = projection.request(requestId);
  }
  if (!summary) throw new NotFoundError('REQUEST.NOT_FOUND', `no request with id ${requestId}`);
  return summary.runId;
}

@CommandHandler(DecideRequestCommand)
export class DecideRequestHandler implements ICommandHandler<DecideRequestCommand> {
  constructor(
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  async execute(c: DecideRequestCommand): Promise<CommandResult<'request.decide'>> {
    const runId = await runOfRequest(this.projection, this.store, c.input.requestId);
    const { result } = await decideOnRun(
      this.engine,
      runId,
      c.by,
      { type: 'request.decide', ...c.input },
      { drive: true, tools: this.core.tools },
    );
    return wireOutcome(result);
  }
}

/** What a decision answers (REST, socket ack, a routed reply): no run state, only the outcome. */
function wireOutcome(outcome: DecisionOutcome): CommandResult<'request.decide'> {
  return outcome.status === 'recorded'
    ? { status: 'recorded', votes: outcome.votes, quorum: outcome.quorum }
    : { status: outcome.status };
}

@CommandHandler(ClaimRequestCommand)
export class ClaimRequestHandler implements ICommandHandler<ClaimRequestCommand> {
  constructor(
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async execute(c: ClaimRequestCommand): Promise<CommandResult<'request.claim'>> {
    const runId = await runOfRequest(this.projection, this.store, c.input.requestId);
    await decideOnRun(this.engine, runId, c.by, { type: 'request.claim', ...c.input });
    return { status: 'claimed', by: c.by.id };
  }
}

@CommandHandler(ReleaseRequestCommand)
export class ReleaseRequestHandler implements ICommandHandler<ReleaseRequestCommand> {
  constructor(
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async execute(c: ReleaseRequestCommand): Promise<CommandResult<'request.release'>> {
    const runId = await runOfRequest(this.projection, this.store, c.input.requestId);
    await decideOnRun(this.engine, runId, c.by, { type: 'request.release', ...c.input });
    return { status: 'released' };
  }
}

@CommandHandler(ExpireRequestCommand)
export class ExpireRequestHandler implements ICommandHandler<ExpireRequestCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}

  async execute(c: ExpireRequestCommand): Promise<boolean> {
    const { events } = await decideOnRun(
      this.engine,
      c.input.runId,
      c.by,
      { type: 'request.expire', ...c.input },
      { drive: true },
    );
    return events.length > 0;
  }
}

export const REQUEST_COMMAND_HANDLERS = [
  DecideRequestHandler,
  ClaimRequestHandler,
  ReleaseRequestHandler,
  ExpireRequestHandler,
];
