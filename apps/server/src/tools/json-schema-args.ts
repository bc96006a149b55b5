import { z } from 'zod';

/**
 * A zod schema for arguments described by a JSON Schema (an MCP tool's `inputSchema`, an HTTP tool's
 * `input`), so that tools from outside are checked like built-in ones before any gate or call. A
 * schema zod cannot read still takes an object: the tool itself is the judge of its arguments then.
 */
export function argsFromJsonSchema(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return z.record(z.string(), z.unknown());
  }
}

/** The arguments' JSON Schema as a model is shown it (without `$schema`). */
export function parametersOf(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return { type: 'object', properties: {}, ...rest };
}
