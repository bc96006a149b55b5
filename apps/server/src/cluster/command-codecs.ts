import {
  COMMANDS,
  IdentitySchema,
  isCommandName,
  toValidationError,
  type CommandInput,
  type CommandName,
} from '@parley/contracts';
import { ForkRunCommand } from '../audit/commands/audit-commands';
import type { Human } from '../auth/identity';
import type { commandOf } from '../commands/command-of';
import {
  ClaimRequestCommand,
  ReleaseRequestCommand,
  DecideRequestCommand,
  ExpireRequestCommand,
} from '../hitl/commands/request-commands';
import {
  CancelRunCommand,
  OverrideHandoffCommand,
  PostHumanMessageCommand,
  RetryRunCommand,
} from '../runs/commands/run-commands';
import { StartRunCommand } from '../runs/commands/start-run.command';

type ClassOf<N extends CommandName> = new (
  input: CommandInput<N>,
  by: Human,
) => InstanceType<ReturnType<typeof commandOf<N>>>;

/**
 * The class of each catalogued command: the commands that may travel to a run's owner. The mapped
 * type makes a catalogued command without a class a compile error.
 */
export const COMMAND_CLASSES: { [N in CommandName]: ClassOf<N> } = {
  'run.start': StartRunCommand,
  'run.cancel': CancelRunCommand,
  'run.retry': RetryRunCommand,
  'run.message': PostHumanMessageCommand,
  'run.handoff': OverrideHandoffCommand,
  'run.fork': ForkRunCommand,
  'request.decide': DecideRequestCommand,
  'request.claim': ClaimRequestCommand,
  'request.release': ReleaseRequestCommand,
  'request.expire': ExpireRequestCommand,
};

/** A command on the wire: its catalogued name, its input and who issued it, as plain data. */
export interface WireCommand {
  type: CommandName;
  input: unknown;
  by: Human;
}

/** The wire form of a routable command, or undefined for a command that always runs here. */
export function encodeCommand(command: object): WireCommand | undefined {
  const name = (command as { commandName?: unknown }).commandName;
  if (typeof name !== 'string' || !isCommandName(name) || !(command instanceof COMMAND_CLASSES[name]))
    return undefined;
  const { input, by } = command as { input: unknown; by: Human };
  return { type: name, input, by };
}

/**
 * The command back from the wire, its input parsed with its catalogued schema and the identity with
 * its own (a record that does not parse is refused with the field that is wrong, and nothing runs).
 * The identity's kind travels with it: the owner refuses a non-human decision as the sender would.
 */
export function decodeCommand(type: string, input: unknown, by: unknown): object {
  if (!isCommandName(type)) throw new Error(`unknown command type ${type}`);
  const parsedInput = COMMANDS[type].input.safeParse(input);
  if (!parsedInput.success) throw toValidationError(parsedInput.error, 'REQUEST.INVALID_BODY');
  const identity = IdentitySchema.safeParse(by);
  if (!identity.success) throw toValidationError(identity.error, 'REQUEST.INVALID_BODY', 'by');
  const Class = COMMAND_CLASSES[type] as ClassOf<CommandName>;
  return new Class(parsedInput.data as never, identity.data);
}
