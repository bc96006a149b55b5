import type { StartRunBody } from '@parley/contracts';
import type { Human } from '../../auth/identity';

export class StartRunCommand {
  constructor(
    readonly body: StartRunBody,
    readonly by: Human,
  ) {}
}
