import { z } from 'zod';
import { RunStarted } from '../events/run.events';
import {
  CancelBody,
  DecisionBody,
  ForkBody,
  HandoffBody,
  MessageBody,
  RetryBody,
  StartRunBody,
} from '../http/api.schemas';

export const RunId = z.string().min(1, 'name a run').max(200);
export const RequestId = z.string().min(1, 'name a request').max(200);

/** Who issues a command: an authenticated identity (a token's), as it travels to a run's owner. */
export const IdentitySchema = z.object({
  id: z.string().min(1),
  roles: z.array(z.string()),
  /** An agent's or a service's token is refused on every human path. */
  kind: z.enum(['human', 'agent', 'service']).default('human'),
});
export type Identity = z.input<typeof IdentitySchema>;

const Seq = z.object({ seq: z.number().int().positive() });

/**
 * Every command, once: its input (what the REST route, the socket message, the CLI and the Kafka
 * wire record carry, with the route's ids merged in), its result, and the least role its edge
 * requires (what the command itself checks, per request or per workflow, comes on top). The REST
 * bodies are these inputs without their ids; the socket messages are these inputs; the CQRS classes
 * (`apps/server/src/commands/`) are built from them. A new command starts here.
 */
export const COMMANDS = {
  'run.start': {
    input: z.object({ body: StartRunBody, runId: RunId.optional() }),
    result: z.object({ runId: z.string(), created: z.boolean() }),
    role: 'participant',
  },
  'run.cancel': { input: CancelBody.extend({ runId: RunId }), result: z.void(), role: 'participant' },
  'run.retry': { input: RetryBody.extend({ runId: RunId }), result: Seq, role: 'participant' },
  'run.message': { input: MessageBody.extend({ runId: RunId }), result: Seq, role: 'participant' },
  'run.handoff': { input: HandoffBody.extend({ runId: RunId }), result: Seq, role: 'participant' },
  'run.fork': {
    input: ForkBody.extend({ runId: RunId, newRunId: RunId.optional() }),
    result: z.object({ runId: z.string(), forkOf: RunStarted.shape.forkOf, note: z.string() }),
    role: 'participant',
  },
  'request.decide': {
    input: DecisionBody.extend({ requestId: RequestId }),
    result: z.discriminatedUnion('status', [
      z.object({ status: z.literal('recorded'), votes: z.number().int(), quorum: z.number().int() }),
      z.object({ status: z.enum(['resolved', 'unchanged']) }),
    ]),
    role: 'viewer',
  },
  'request.claim': {
    input: z.strictObject({ requestId: RequestId }),
    result: z.object({ status: z.literal('claimed'), by: z.string() }),
    role: 'viewer',
  },
  /** Hand a claimed request back: its claimer (or an admin) releases it for anyone entitled. */
  'request.release': {
    input: z.strictObject({ requestId: RequestId }),
    result: z.object({ status: z.literal('released') }),
    role: 'viewer',
  },
  /** A request's deadline passed: the deadline scheduler closes it with its timeout action. */
  'request.expire': {
    input: z.object({ runId: RunId, requestId: RequestId }),
    result: z.boolean(),
    role: 'admin',
  },
} as const satisfies Record<string, { input: z.ZodType; result: z.ZodType; role: string }>;

export type CommandName = keyof typeof COMMANDS;
export type CommandInput<N extends CommandName> = z.output<(typeof COMMANDS)[N]['input']>;
export type CommandResult<N extends CommandName> = z.output<(typeof COMMANDS)[N]['result']>;

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name);
}

/**
 * The REST body of each command with a route: its input without the ids the route's path carries
 * (`/api/runs/:runId/…`, `/api/requests/:id/…`). Derived, so a field added to a command's input is
 * in its body, its OpenAPI schema and its socket message at once.
 */
export const REST_BODIES = {
  'run.start': COMMANDS['run.start'].input.shape.body,
  'run.cancel': COMMANDS['run.cancel'].input.omit({ runId: true }),
  'run.retry': COMMANDS['run.retry'].input.omit({ runId: true }),
  'run.message': COMMANDS['run.message'].input.omit({ runId: true }),
  'run.handoff': COMMANDS['run.handoff'].input.omit({ runId: true }),
  'run.fork': COMMANDS['run.fork'].input.omit({ runId: true, newRunId: true }),
  'request.decide': COMMANDS['request.decide'].input.omit({ requestId: true }),
  'request.claim': COMMANDS['request.claim'].input.omit({ requestId: true }),
  'request.release': COMMANDS['request.release'].input.omit({ requestId: true }),
} as const satisfies Partial<Record<CommandName, z.ZodType>>;
