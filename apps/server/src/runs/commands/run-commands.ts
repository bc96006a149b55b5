import { Command } from '@nestjs/cqrs';
import { commandOf } from '../../commands/command-of';

export class CancelRunCommand extends commandOf('run.cancel') {}
export class PostHumanMessageCommand extends commandOf('run.message') {}
export class OverrideHandoffCommand extends commandOf('run.handoff') {}
/** Continue a failed run from its failed step (attributed; nothing recorded is repeated). */
export class RetryRunCommand extends commandOf('run.retry') {}
/** Continue a run from its log: what a saga issues after a human's decision or message (local only). */
export class ResumeRunCommand extends Command<void> {
  constructor(
    readonly runId: string,
    readonly cause: string,
  ) {
    super();
  }
}
