import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { cancelRun, overrideHandoff, postMessage, retryRun, RunEngine } from '@parley/engine';
import { acting } from '../../auth/acting';
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
    await this.engine.write(c.input.runId, (state) => ({
      events: cancelRun(state!, acting(c.by), c.input.reason),
      result: undefined,
    }));
  }
}

@CommandHandler(PostHumanMessageCommand)
export class PostHumanMessageHandler implements ICommandHandler<PostHumanMessageCommand, { seq: number }> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: PostHumanMessageCommand): Promise<{ seq: number }> {
    const { events, result: posted } = await this.engine.write(
      c.input.runId,
      (state) => {
        const message = postMessage(state!, acting(c.by), c.input.text);
        return { events: message, result: message.length };
      },
      { drive: true },
    );
    // The seq of the message's last event (what the run does next may follow in the same append).
    return { seq: events[posted - 1].seq };
  }
}

@CommandHandler(OverrideHandoffCommand)
export class OverrideHandoffHandler implements ICommandHandler<OverrideHandoffCommand, { seq: number }> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: OverrideHandoffCommand): Promise<{ seq: number }> {
    const { events } = await this.engine.write(
      c.input.runId,
      (state) => ({
        events: overrideHandoff(state!, acting(c.by), c.input.to, c.input.reason),
        result: undefined,
      }),
      { drive: true },
    );
    return { seq: events[0].seq };
  }
}

/** The run goes back to `running` and, in the same append, asks the failed step's model again. */
@CommandHandler(RetryRunCommand)
export class RetryRunHandler implements ICommandHandler<RetryRunCommand, { seq: number }> {
  constructor(@Inject(RunEngine) private readonly engine: RunEngine) {}
  async execute(c: RetryRunCommand): Promise<{ seq: number }> {
    const { events } = await this.engine.write(
      c.input.runId,
      (state) => ({ events: retryRun(state!, acting(c.by), c.input.reason), result: undefined }),
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
