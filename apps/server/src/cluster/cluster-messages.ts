import { z } from 'zod';

/**
 * What travels between instances on Kafka. Commands are plain data: a catalogued command name, its
 * input and who issued it (`libs/contracts/src/commands/command-catalog.ts`), never a class name or
 * an instance. Every record is parsed with these schemas where it enters (the input with its
 * command's own schema, by `decodeCommand`).
 */
export const CommandRecord = z.object({
  commandId: z.string().min(1),
  /** A name from the command catalogue (COMMANDS). */
  type: z.string().min(1),
  input: z.unknown(),
  by: z.unknown(),
  /** The run the command is for: the record's key, which picks its partition and so its owner. */
  runId: z.string().min(1),
  /** The instance waiting for the reply. */
  from: z.string().min(1),
  /** Epoch ms: after this the caller has answered 503 and the command must not run. */
  deadline: z.number().int(),
  /** The caller's W3C trace context (tracing on): the owner runs the command under a child span. */
  traceparent: z.string().max(256).optional(),
  tracestate: z.string().max(512).optional(),
});
export type CommandRecord = z.infer<typeof CommandRecord>;

export const WireError = z.object({
  code: z.string(),
  message: z.string(),
  kind: z.string(),
  field: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type WireError = z.infer<typeof WireError>;

export const ReplyRecord = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    commandId: z.string(),
    to: z.string(),
    by: z.string(),
    result: z.unknown(),
    runId: z.string(),
    /** The run's head on the owner after the command: the caller waits until its own store has it. */
    headSeq: z.number().int().min(0),
  }),
  z.object({ ok: z.literal(false), commandId: z.string(), to: z.string(), by: z.string(), error: WireError }),
]);
export type ReplyRecord = z.infer<typeof ReplyRecord>;

export const TokensRecord = z.object({
  from: z.string(),
  tokens: z.array(z.object({ runId: z.string(), agent: z.string(), delta: z.string() })),
});
export type TokensRecord = z.infer<typeof TokensRecord>;
