import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { ToolError, type ToolDefinition } from '@parley/engine';
import { argsFromJsonSchema, parametersOf } from '../json-schema-args';
import { traceparentOfToolCall } from '../../observability/tracing/tool-trace-context';
import type { McpConnection } from './mcp-connection';

/** The longest tool result recorded in the log (a longer one is a tool error, not a truncated fact). */
const MAX_RESULT_CHARS = 262_144;

/**
 * What an MCP tool's annotations are worth: nothing unless its server is trusted (the MCP spec:
 * clients must treat annotations as untrusted unless they come from a trusted server).
 */
export interface McpToolTrust {
  /** An approval is asked for by default (a workflow's `policies.ungated` waives it). */
  gated: boolean;
  /** A crashed call may run again with no one asked: a trusted server's read-only tool only. */
  idempotent: boolean;
}

export function trustOf(tool: Tool, trusted: boolean): McpToolTrust {
  if (!trusted) return { gated: true, idempotent: false };
  const a = tool.annotations ?? {};
  const readOnly = a.readOnlyHint === true;
  // The spec's default for destructiveHint is true (meaningful when the tool is not read-only).
  const destructive = !readOnly && a.destructiveHint !== false;
  return { gated: destructive, idempotent: readOnly };
}

/** An MCP server's tool, named `<server>.<tool>`, run through the server's SDK client. */
export function mcpTool(connection: McpConnection, tool: Tool, trust: McpToolTrust): ToolDefinition {
  const name = `${connection.name}.${tool.name}`;
  const schema = tool.inputSchema as Record<string, unknown>;
  return {
    name,
    description: tool.description ?? tool.title ?? `${tool.name} (MCP server ${connection.name})`,
    args: argsFromJsonSchema(schema),
    parameters: parametersOf(schema),
    idempotent: trust.idempotent,
    async execute(args, ctx) {
      if (connection.lost)
        throw new ToolError(
          'TOOL.MCP_UNAVAILABLE',
          `MCP server ${connection.name} is not answering (${connection.lost})`,
        );
      let result: CallToolResult;
      try {
        result = await connection.call(
          tool.name,
          (args ?? {}) as Record<string, unknown>,
          traceparentOfToolCall(ctx),
        );
      } catch (error) {
        // Never transient: whether the server acted before the failure is unknown.
        throw new ToolError('TOOL.MCP_FAILED', `${name}: ${(error as Error).message}`);
      }
      const value = resultOf(result);
      if (result.isError)
        throw new ToolError(
          'TOOL.MCP_ERROR',
          `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
        );
      if (JSON.stringify(value ?? null).length > MAX_RESULT_CHARS)
        throw new ToolError(
          'TOOL.RESPONSE_TOO_LARGE',
          `${name}: the result is longer than ${MAX_RESULT_CHARS} characters`,
        );
      return { result: value };
    },
  };
}

/** The result as data: its structured content, else its text (one text block as a string), else its blocks. */
function resultOf(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  const content = result.content ?? [];
  if (content.every((c) => c.type === 'text')) {
    const texts = content.map((c) => (c as { text: string }).text);
    return texts.length === 1 ? texts[0] : texts;
  }
  return content;
}
