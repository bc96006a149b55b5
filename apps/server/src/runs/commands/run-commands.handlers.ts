import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RunEngine } from '@parley/engine';
import { decideOnRun } from '../../commands/decide-on-run';
import {
  CancelRunCommand,
  OverrideHandoffCommand,
  PostHumanMessageCommand,
  ResumeRunCommand,
  RetryRunCommand,
} from './run-commands';

/** Thin handlers: load the run, decide against its own state, append with the expected seq. */
@CommandHandler(CancelRunCommand)
export class CancelRunHandler implements ICommandHandler<CancelRunCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: CancelRunCommand): Promise<void> {
    await decideOnRun(this.engine, c.input.runId, c.by, { type: 'run.cancel', ...c.input });
  }
}

@CommandHandler(PostHumanMessageCommand)
export class PostHumanMessageHandler implements ICommandHandler<PostHumanMessageCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: PostHumanMessageCommand): Promise<{ seq: number }> {
    const { events, result: posted } = await decideOnRun(
      this.engine,
      c.input.runId,
      c.by,
      { type: 'run.message', ...c.input },
      { drive: true },
    );
    // The seq of the message's last event (what the run does next may follow in the same append).
    return { seq: events[posted - 1].seq };
  }
}

@CommandHandler(OverrideHandoffCommand)
export class OverrideHandoffHandler implements ICommandHandler<OverrideHandoffCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: OverrideHandoffCommand): Promise<{ seq: number }> {
    const { events } = await decideOnRun(
      this.engine,
      c.input.runId,
      c.by,
      { type: 'run.handoff', ...c.input },
      { drive: true },
    );
    return { seq: events[0].seq };
  }
}

/** The run goes back to `running` and, in the same append, asks the failed step's model again. */
@CommandHandler(RetryRunCommand)
export class RetryRunHandler implements ICommandHandler<RetryRunCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: RetryRunCommand): Promise<{ seq: number }> {
    const { events } = await decideOnRun(
      this.engine,
      c.input.runId,
      c.by,
      { type: 'run.retry', ...c.input },
      { drive: true },
    );
    return { seq: events[0].seq };
  }
}

@CommandHandler(ResumeRunCommand)
export class ResumeRunHandler implements ICommandHandler<ResumeRunCommand> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: ResumeRunCommand): Promise<void> {
    this.engine.kick(c.runId);
  }
}

export const RUN_COMMAND_HANDLERS = [
  CancelRunHandler,
  PostHumanMessageHandler,
  OverrideHandoffHandler,
  RetryRunHandler,
  ResumeRunHandler,
];
