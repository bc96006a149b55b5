import { z } from 'zod';

export const ToolCallRequested = z.object({
  callId: z.string().min(1),
  agent: z.string().min(1),
  tool: z.string().min(1),
  args: z.unknown(),
  /** SHA-256 of the canonical JSON of `{tool, args}`: what a human approves is bound to this. */
  argsHash: z.string().min(1),
  /** `runId:callId`, passed to the tool so that a repeated call applies once. */
  idempotencyKey: z.string().min(1),
});

export const ToolCallStarted = z.object({ callId: z.string().min(1), idempotencyKey: z.string().min(1) });
export const ToolCallCompleted = z.object({
  callId: z.string().min(1),
  result: z.unknown(),
  /** True when the tool reported the idempotency key as already applied (a recovered call). */
  reconciled: z.boolean().default(false),
  /** The `reconcile` request whose answer completed it (a human said it happened). */
  requestId: z.string().optional(),
});
export const ToolCallFailed = z.object({
  callId: z.string().min(1),
  code: z.string().min(1),
  message: z.string(),
  /** How many times the tool was run under this call (absent in logs written before retries). */
  attempts: z.number().int().positive().optional(),
  /** The `reconcile` request whose answer failed it. */
  requestId: z.string().optional(),
});
/** A transient failure of one attempt; the tool runs again with the same idempotency key after `delayMs`. */
export const ToolCallRetried = z.object({
  callId: z.string().min(1),
  attempt: z.number().int().positive(),
  code: z.string().min(1),
  message: z.string(),
  delayMs: z.number().int().min(0),
});
export const ToolCallRejected = z.object({
  callId: z.string().min(1),
  reason: z.string(),
  requestId: z.string().optional(),
});
