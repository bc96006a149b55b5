/** zod validation of request bodies; unknown fields are accepted and passed through. */
import { z } from 'zod';
import type { ChatRequest } from './types';

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z
    .array(
      z.looseObject({
        id: z.string(),
        type: z.string().optional(),
        function: z.looseObject({ name: z.string(), arguments: z.string() }),
      }),
    )
    .optional(),
});

const tool = z.looseObject({
  type: z.string(),
  function: z
    .looseObject({
      name: z.string().min(1),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    })
    .optional(),
});

const responseFormat = z.looseObject({
  type: z.string(),
  json_schema: z
    .looseObject({
      name: z.string(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
      description: z.string().optional(),
    })
    .optional(),
});

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  tools: z.array(tool).optional(),
  tool_choice: z.unknown().optional(),
  response_format: responseFormat.optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
});

export const faultsSchema = z.object({
  invalidStructuredOutputs: z.number().int().min(0).optional(),
  httpErrors: z.number().int().min(0).optional(),
});

export type Faults = z.infer<typeof faultsSchema>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseChatRequest(body: unknown): Parsed<ChatRequest> {
  const r = chatRequestSchema.safeParse(body);
  return r.success ? { ok: true, value: r.data as ChatRequest } : { ok: false, message: describe(r.error) };
}

export function parseFaults(body: unknown): Parsed<Faults> {
  const r = faultsSchema.safeParse(body);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: describe(r.error) };
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
}
