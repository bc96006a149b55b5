import { z } from 'zod';
import { DurationSchema } from '@parley/contracts';

/**
 * The tools file (`PARLEY_TOOLS_FILE`, YAML or JSON): where a Parley instance gets its tools and
 * models. `mcpServers` has the shape MCP clients already use; `http` tools are one HTTP call each;
 * `modules` are JavaScript modules of `defineTool` tools; `providers` are named model providers.
 */

const Name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'expected a lower-case name (letters, digits, "-" or "_")');
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');
const StringMap = z.record(z.string(), z.string());

const mcpCommon = {
  /** Only a trusted server's tool annotations are believed (readOnlyHint, destructiveHint). */
  trusted: z.boolean().default(false),
  /** How long the server may take to start and list its tools. */
  startTimeout: DurationSchema.default('30s'),
  /** How long one tool call may take. */
  timeout: DurationSchema.default('60s'),
};

export const McpStdioServerSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: StringMap.optional(),
  cwd: z.string().min(1).optional(),
  ...mcpCommon,
});

export const McpHttpServerSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** Values may read `${env:NAME}`; they are never logged. */
  headers: StringMap.optional(),
  ...mcpCommon,
});

export const McpServerSchema = z.union([McpStdioServerSchema, McpHttpServerSchema], {
  error: 'expected {command, args?, env?, cwd?} (stdio) or {url, headers?} (Streamable HTTP)',
});
export type McpServerSpec = z.infer<typeof McpServerSchema>;

export const HttpToolSchema = z.strictObject({
  /** `name` or `<group>.<name>`, as workflows list it. */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,62}(\.[a-z0-9_][a-z0-9_-]{0,62})?$/, 'expected `name` or `<group>.<name>`'),
  description: z.string().min(1),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  /** `https://api.example.com/orders/{order_id}`: each `{arg}` is that argument, URL-encoded. */
  url: z.string().min(1),
  /** Values may read `${env:NAME}`; they are never logged. */
  headers: StringMap.default({}),
  /** The arguments' JSON Schema (an object schema). */
  input: z
    .looseObject({ type: z.literal('object', { error: 'expected an object schema (type: object)' }) })
    .default({ type: 'object', properties: {} }),
  timeout: DurationSchema.default('10s'),
  /** The service applies each `Idempotency-Key` once: a crashed call is sent again with the same key. */
  idempotent: z.boolean().default(false),
  /** Longer answers are a tool error (TOOL.RESPONSE_TOO_LARGE). */
  maxResponseBytes: z.number().int().min(1).max(16_777_216).default(1_048_576),
});
export type HttpToolSpec = z.infer<typeof HttpToolSchema>;

export const NamedProviderSchema = z.strictObject({
  baseURL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  apiKeyEnv: EnvName.optional(),
  /** The model of the agents that use this provider and name no model. */
  model: z.string().min(1).optional(),
});
export type NamedProvider = z.infer<typeof NamedProviderSchema>;

export const ToolsFileSchema = z.strictObject({
  mcpServers: z.record(Name, McpServerSchema).default({}),
  http: z.array(HttpToolSchema).default([]),
  /** Paths of JavaScript modules (relative to this file), or package names. */
  modules: z.array(z.string().min(1)).default([]),
  providers: z.record(Name, NamedProviderSchema).default({}),
});
export type ToolsFile = z.infer<typeof ToolsFileSchema>;
