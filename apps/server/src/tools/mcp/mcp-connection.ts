import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { durationMs } from '@parley/contracts';
import type { McpServerSpec } from '../tools-file/tools-file.schema';

/**
 * One MCP server, through the official SDK client: a child process over stdio, or a Streamable HTTP
 * endpoint. Its tools are listed when it connects and again whenever it says they changed.
 */
export class McpConnection {
  private tools: Tool[] = [];
  private closed = false;
  /** Why the server stopped answering, once it has (its process exited, its endpoint closed). */
  lost?: string;
  private listeners: Array<(tools: Tool[]) => void> = [];

  private constructor(
    readonly name: string,
    private readonly client: Client,
    private readonly spec: McpServerSpec,
    private readonly stderrTail: () => string,
  ) {}

  /** Start (or reach) the server and list its tools; rejects with a sentence that names the server. */
  static async connect(
    name: string,
    spec: McpServerSpec,
    headers: Record<string, string> | undefined,
    env: Record<string, string> | undefined,
  ): Promise<McpConnection> {
    const client = new Client({ name: 'parley', version: '0.1.0' }, { capabilities: {} });
    const tail: string[] = [];
    let transport: Transport;
    if ('command' in spec) {
      const stdio = new StdioClientTransport({
        command: spec.command,
        args: spec.args,
        env: { ...getDefaultEnvironment(), ...env },
        cwd: spec.cwd,
        stderr: 'pipe',
      });
      stdio.stderr?.on('data', (chunk: Buffer) => {
        tail.push(chunk.toString());
        if (tail.length > 20) tail.shift();
      });
      transport = stdio;
    } else {
      transport = new StreamableHTTPClientTransport(new URL(spec.url), {
        requestInit: headers ? { headers } : undefined,
      });
    }
    // one line: the start-up warning that names the server is a single log line
    const connection = new McpConnection(name, client, spec, () =>
      tail.join('').replace(/\s+/g, ' ').trim().slice(-300),
    );
    const timeout = durationMs(spec.startTimeout);
    try {
      await client.connect(transport, { timeout });
      connection.tools = await connection.listAll(timeout);
    } catch (error) {
      await client.close().catch(() => undefined);
      const why = (error as Error).message;
      const stderr = connection.stderrTail();
      throw new Error(`${why}${stderr ? ` (its stderr: ${stderr})` : ''}`);
    }
    client.onclose = () => {
      if (!connection.closed) connection.lost = connection.lost ?? 'the connection closed';
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      try {
        connection.tools = await connection.listAll(timeout);
        for (const listener of connection.listeners) listener(connection.tools);
      } catch {
        // the previous list stays; the next notification tries again
      }
    });
    return connection;
  }

  listed(): Tool[] {
    return this.tools;
  }

  onToolsChanged(listener: (tools: Tool[]) => void): void {
    this.listeners.push(listener);
  }

  /** `traceparent`: the call's span (tracing on), sent in the request's `_meta`. */
  async call(tool: string, args: Record<string, unknown>, traceparent?: string): Promise<CallToolResult> {
    const meta = traceparent ? { _meta: { traceparent } } : {};
    return (await this.client.callTool({ name: tool, arguments: args, ...meta }, undefined, {
      timeout: durationMs(this.spec.timeout),
    })) as CallToolResult;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.close().catch(() => undefined);
  }

  private async listAll(timeout: number): Promise<Tool[]> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.listTools(cursor ? { cursor } : {}, { timeout });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor && tools.length < 10_000);
    return tools;
  }
}
