import { z } from 'zod';

export const HumanRefSchema = z.object({ id: z.string().min(1), role: z.string().min(1) });
export type HumanRef = z.infer<typeof HumanRefSchema>;

export const ToolCallSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.unknown(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const UsageSchema = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() });
