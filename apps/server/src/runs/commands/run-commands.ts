import type { Human } from '../../auth/identity';

export class CancelRunCommand {
  constructor(
    readonly runId: string,
    readonly by: Human,
    readonly reason?: string,
  ) {}
}
export class PostHumanMessageCommand {
  constructor(
    readonly runId: string,
    readonly by: Human,
    readonly text: string,
  ) {}
}
export class OverrideHandoffCommand {
  constructor(
    readonly runId: string,
    readonly by: Human,
    readonly to: string,
    readonly reason: string,
  ) {}
}
/** Continue a failed run from its failed step (attributed; nothing recorded is repeated). */
export class RetryRunCommand {
  constructor(
    readonly runId: string,
    readonly by: Human,
    readonly reason?: string,
  ) {}
}
/** Continue a run from its log: what a saga issues after a human's decision or message. */
export class ResumeRunCommand {
  constructor(
    readonly runId: string,
    readonly cause: string,
  ) {}
}
