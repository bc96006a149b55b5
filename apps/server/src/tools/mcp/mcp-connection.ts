import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { durationMs } from '@parley/contracts';
import type { McpServerSpec } from '../tools-file/tools-file.schema';

/** Where a connection says it lost its server, and that it is back. */
export interface McpConnectionLog {
  info(line: string): void;
  warn(line: string): void;
}

/** The first wait before reconnecting to a lost server, doubled after each failed attempt. */
const FIRST_RECONNECT_MS = 500;
const MAX_RECONNECT_MS = 30_000;

/**
 * One MCP server, through the official SDK client: a child process over stdio, or a Streamable HTTP
 * endpoint. Its tools are listed when it connects and again whenever it says they changed.
 *
 * A server that stops answering (its process exits, its endpoint refuses or forgets the session) is
 * `lost`: calls to it fail at once with why, and it is reconnected in the background, after 0.5 s,
 * then 1, 2, 4 ... up to 30 s between attempts. Once back, its tools are listed again and the
 * listeners told, as for a change of tools. A call under way when the server went away is not
 * repeated: whether the server acted on it is unknown.
 */
export class McpConnection {
  private client!: Client;
  private tools: Tool[] = [];
  private closed = false;
  private stderrTail: () => string = () => '';
  private failedAttempts = 0;
  private timer?: NodeJS.Timeout;
  /** Why the server stopped answering, while it has (its process exited, its endpoint closed). */
  lost?: string;
  private listeners: Array<(tools: Tool[]) => void> = [];

  private constructor(
    readonly name: string,
    private readonly spec: McpServerSpec,
    private readonly headers: Record<string, string> | undefined,
    private readonly env: Record<string, string> | undefined,
    private readonly log: McpConnectionLog,
  ) {}

  /** Start (or reach) the server and list its tools; rejects with a sentence that names the server. */
  static async connect(
    name: string,
    spec: McpServerSpec,
    headers: Record<string, string> | undefined,
    env: Record<string, string> | undefined,
    log: McpConnectionLog = { info: () => undefined, warn: () => undefined },
  ): Promise<McpConnection> {
    const connection = new McpConnection(name, spec, headers, env, log);
    await connection.open();
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
    const client = this.client;
    try {
      return (await client.callTool({ name: tool, arguments: args, ...meta }, undefined, {
        timeout: durationMs(this.spec.timeout),
      })) as CallToolResult;
    } catch (error) {
      // An endpoint that refuses connections or no longer knows the session will not answer the
      // next call either: reconnect (a stdio server's exit is seen by its transport's close).
      if ('url' in this.spec && endpointGone(error)) this.markLost(client, reasonOf(error));
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.client.close().catch(() => undefined);
  }

  /** A new client and transport, connected, with the tools listed; replaces the current one. */
  private async open(): Promise<void> {
    const client = new Client({ name: 'parley', version: '0.1.0' }, { capabilities: {} });
    const tail: string[] = [];
    let transport: Transport;
    const spec = this.spec;
    if ('command' in spec) {
      const stdio = new StdioClientTransport({
        command: spec.command,
        args: spec.args,
        env: { ...getDefaultEnvironment(), ...this.env },
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
        requestInit: this.headers ? { headers: this.headers } : undefined,
      });
    }
    // one line: the warning that names the server is a single log line
    const stderrTail = (): string => tail.join('').replace(/\s+/g, ' ').trim().slice(-300);
    const timeout = durationMs(spec.startTimeout);
    let tools: Tool[];
    try {
      await client.connect(transport, { timeout });
      tools = await listAll(client, timeout);
    } catch (error) {
      await client.close().catch(() => undefined);
      const why = (error as Error).message;
      const stderr = stderrTail();
      throw new Error(`${why}${stderr ? ` (its stderr: ${stderr})` : ''}`);
    }
    client.onclose = () => {
      const stderr = stderrTail();
      this.markLost(client, `the connection closed${stderr ? ` (its stderr: ${stderr})` : ''}`);
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      try {
        this.tools = await listAll(client, timeout);
        for (const listener of this.listeners) listener(this.tools);
      } catch {
        // the previous list stays; the next notification tries again
      }
    });
    this.client = client;
    this.stderrTail = stderrTail;
    this.tools = tools;
    this.lost = undefined;
  }

  private markLost(client: Client, why: string): void {
    if (this.closed || client !== this.client || this.lost) return;
    this.lost = why;
    this.log.warn(`MCP server "${this.name}" stopped answering: ${why}; reconnecting`);
    void client.close().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(MAX_RECONNECT_MS, FIRST_RECONNECT_MS * 2 ** this.failedAttempts);
    this.timer = setTimeout(() => void this.reconnect(), delay);
    this.timer.unref();
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    const lost = this.lost;
    try {
      await this.open();
    } catch (error) {
      if (this.closed) return;
      this.failedAttempts += 1;
      this.lost = `${lost?.replace(/; reconnecting failed.*$/, '')}; reconnecting failed ${this.failedAttempts} time(s): ${(error as Error).message}`;
      if (this.failedAttempts === 1 || this.failedAttempts % 10 === 0)
        this.log.warn(
          `MCP server "${this.name}": reconnecting failed (${(error as Error).message}); trying again`,
        );
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await this.client.close().catch(() => undefined);
      return;
    }
    this.failedAttempts = 0;
    this.log.info(`MCP server "${this.name}" is back: ${this.tools.length} tools`);
    for (const listener of this.listeners) listener(this.tools);
  }
}

async function listAll(client: Client, timeout: number): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor && tools.length < 10_000);
  return tools;
}

/** An HTTP endpoint that is down or restarted: connection refused, or the session unknown. */
function endpointGone(error: unknown): boolean {
  // The spec says 404 for a session the server does not know; some servers (server-everything among
  // them) answer 400 "No valid session ID provided".
  if (error instanceof StreamableHTTPError)
    return error.code === 404 || (error.code === 400 && /session/i.test(error.message));
  const cause = (error as { cause?: { code?: string } }).cause;
  return (
    error instanceof TypeError && ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH'].includes(cause?.code ?? '')
  );
}

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return `${(error as Error).message}${cause?.code ? ` (${cause.code})` : ''}`;
}
