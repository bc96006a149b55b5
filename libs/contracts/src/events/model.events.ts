import { z } from 'zod';
import { ToolCallSchema, UsageSchema } from './common';

export const ModelCallStarted = z.object({
  callId: z.string().min(1),
  agent: z.string().min(1),
  /** What the call is for: a turn of speech, or a structured output such as a plan or a verdict. */
  purpose: z.string().min(1),
  model: z.string().min(1),
});

export const ModelCallCompleted = z.object({
  callId: z.string().min(1),
  agent: z.string().min(1),
  purpose: z.string().min(1),
  content: z.string(),
  toolCalls: z.array(ToolCallSchema).default([]),
  /** The validated structured output, when the call asked for one. */
  structured: z.unknown().optional(),
  attempts: z.number().int().positive().default(1),
  usage: UsageSchema.optional(),
});

export const ModelCallFailed = z.object({
  callId: z.string().min(1),
  agent: z.string().min(1),
  purpose: z.string().min(1),
  code: z.string().min(1),
  message: z.string(),
  attempts: z.number().int().positive(),
});

/**
 * A transient failure (connection refused or reset, a timeout, HTTP 429 or 5xx) of one attempt of a
 * call that will be tried again under the same call id after `delayMs`: one fact per failed attempt.
 */
export const ModelCallRetried = z.object({
  callId: z.string().min(1),
  agent: z.string().min(1),
  purpose: z.string().min(1),
  /** The attempt that failed (1 for the first). */
  attempt: z.number().int().positive(),
  code: z.string().min(1),
  message: z.string(),
  delayMs: z.number().int().min(0),
});
