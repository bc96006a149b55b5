import { ForkRunCommand } from '../audit/commands/audit-commands';
import type { Human } from '../auth/identity';
import {
  ClaimRequestCommand,
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

/**
 * The run-scoped commands that may travel to a run's owner: a stable wire name (never the class
 * name), the constructor arguments as plain data, and how to build the command back.
 * Arguments were validated at the edge of the instance that received them; the commands topic is
 * as trusted as the event log.
 */
interface Codec<C> {
  cls: new (...args: never[]) => C;
  args(command: C): unknown[];
  build(args: unknown[]): C;
}

const human = (value: unknown): Human => {
  const h = value as Human;
  if (!h || typeof h.id !== 'string' || !Array.isArray(h.roles)) throw new Error('bad human');
  // The identity's kind travels with it: the owner refuses a non-human decision as this instance would.
  const kind = h.kind === 'agent' || h.kind === 'service' ? h.kind : 'human';
  return { id: h.id, roles: h.roles.map(String), kind };
};
const opt = (value: unknown): string | undefined =>
  value === null || value === undefined ? undefined : String(value);

export const COMMAND_CODECS = {
  'run.start': {
    cls: StartRunCommand,
    args: (c: StartRunCommand) => [c.body, c.by, c.runId],
    build: (a: unknown[]) => new StartRunCommand(a[0] as StartRunCommand['body'], human(a[1]), opt(a[2])),
  } satisfies Codec<StartRunCommand>,
  'run.cancel': {
    cls: CancelRunCommand,
    args: (c: CancelRunCommand) => [c.runId, c.by, c.reason],
    build: (a: unknown[]) => new CancelRunCommand(String(a[0]), human(a[1]), opt(a[2])),
  } satisfies Codec<CancelRunCommand>,
  'run.retry': {
    cls: RetryRunCommand,
    args: (c: RetryRunCommand) => [c.runId, c.by, c.reason],
    build: (a: unknown[]) => new RetryRunCommand(String(a[0]), human(a[1]), opt(a[2])),
  } satisfies Codec<RetryRunCommand>,
  'run.message': {
    cls: PostHumanMessageCommand,
    args: (c: PostHumanMessageCommand) => [c.runId, c.by, c.text],
    build: (a: unknown[]) => new PostHumanMessageCommand(String(a[0]), human(a[1]), String(a[2])),
  } satisfies Codec<PostHumanMessageCommand>,
  'run.handoff': {
    cls: OverrideHandoffCommand,
    args: (c: OverrideHandoffCommand) => [c.runId, c.by, c.to, c.reason],
    build: (a: unknown[]) =>
      new OverrideHandoffCommand(String(a[0]), human(a[1]), String(a[2]), String(a[3])),
  } satisfies Codec<OverrideHandoffCommand>,
  'run.fork': {
    cls: ForkRunCommand,
    args: (c: ForkRunCommand) => [c.runId, c.atSeq, c.note, c.by, c.message, c.newRunId],
    build: (a: unknown[]) =>
      new ForkRunCommand(String(a[0]), Number(a[1]), String(a[2]), human(a[3]), opt(a[4]), opt(a[5])),
  } satisfies Codec<ForkRunCommand>,
  'request.decide': {
    cls: DecideRequestCommand,
    args: (c: DecideRequestCommand) => [c.requestId, c.by, c.body],
    build: (a: unknown[]) =>
      new DecideRequestCommand(String(a[0]), human(a[1]), a[2] as DecideRequestCommand['body']),
  } satisfies Codec<DecideRequestCommand>,
  'request.claim': {
    cls: ClaimRequestCommand,
    args: (c: ClaimRequestCommand) => [c.requestId, c.by],
    build: (a: unknown[]) => new ClaimRequestCommand(String(a[0]), human(a[1])),
  } satisfies Codec<ClaimRequestCommand>,
  'request.expire': {
    cls: ExpireRequestCommand,
    args: (c: ExpireRequestCommand) => [c.runId, c.requestId],
    build: (a: unknown[]) => new ExpireRequestCommand(String(a[0]), String(a[1])),
  } satisfies Codec<ExpireRequestCommand>,
} as const;

export type CommandName = keyof typeof COMMAND_CODECS;

/** The wire name and arguments of a routable command, or undefined for a command that always runs here. */
export function encodeCommand(command: object): { type: CommandName; args: unknown[] } | undefined {
  for (const [type, codec] of Object.entries(COMMAND_CODECS) as Array<[CommandName, Codec<object>]>) {
    if (command instanceof codec.cls) return { type, args: codec.args(command) };
  }
  return undefined;
}

export function decodeCommand(type: string, args: unknown[]): object {
  const codec = (COMMAND_CODECS as Record<string, Codec<object>>)[type];
  if (!codec) throw new Error(`unknown command type ${type}`);
  return codec.build(args);
}
