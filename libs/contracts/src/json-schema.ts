import { z } from 'zod';

/**
 * The JSON Schema of what a client must send for `schema` (zod's input side: a field with a default
 * is optional), without `$schema`. One conversion for every place that hands a schema to a person or
 * a model to fill in: a tool's parameters, an edit's schema, an AG-UI resume payload.
 */
export function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return json;
}
