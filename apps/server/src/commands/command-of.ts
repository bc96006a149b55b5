import { Command } from '@nestjs/cqrs';
import type { CommandInput, CommandName, CommandResult } from '@parley/contracts';
import type { Human } from '../auth/identity';

/**
 * The CQRS class of a catalogued command (`libs/contracts/src/commands/command-catalog.ts`):
 * `class CancelRunCommand extends commandOf('run.cancel') {}`. It carries the command's parsed input
 * and who issues it; `CommandBus.execute` answers its catalogued result type, with no cast. A class
 * per command, because @nestjs/cqrs routes commands to handlers by class.
 */
export function commandOf<N extends CommandName>(name: N) {
  abstract class CataloguedCommand extends Command<CommandResult<N>> {
    static readonly commandName: N = name;
    readonly commandName: N = name;
    constructor(
      readonly input: CommandInput<N>,
      readonly by: Human,
    ) {
      super();
    }
  }
  return CataloguedCommand;
}

/** Any catalogued command instance. */
export type CataloguedCommand = InstanceType<ReturnType<typeof commandOf>>;
