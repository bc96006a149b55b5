import type { StartRunBody } from '@parley/contracts';
import type { Human } from '../../auth/identity';

export class StartRunCommand {
  constructor(
    readonly body: StartRunBody,
    readonly by: Human,
    /** Chosen before the command is routed (the run's id picks its owner); generated when absent. */
    readonly runId?: string,
  ) {}
}
