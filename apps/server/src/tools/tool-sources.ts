import { dirname, resolve } from 'node:path';
import { ToolRegistry } from '@parley/engine';
import type { ToolHost } from '@parley/tools-sdk';
import { httpTool } from './http/http-tool';
import type * as McpConnectionModule from './mcp/mcp-connection';
import type * as McpToolModule from './mcp/mcp-tool';
import { moduleTools } from './modules/module-tools';
import { ToolsFileError, expandEnv, readToolsFile } from './tools-file/read-tools-file';
import type { NamedProvider, ToolsFile } from './tools-file/tools-file.schema';

/**
 * The MCP client (the SDK and its JSON Schema validator, about 80 modules): loaded on first use, by
 * a tools file that has MCP servers, so that a server without any does not pay for it at start-up.
 */
function mcp(): typeof McpConnectionModule & typeof McpToolModule {
  return {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ...(require('./mcp/mcp-connection') as typeof McpConnectionModule),
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ...(require('./mcp/mcp-tool') as typeof McpToolModule),
  };
}

/** An MCP server as the workflows see it: its tools, or why it has none. */
export type ServerState = { up: true; tools: string[] } | { up: false; reason: string };

/** Where the tools come from: what the workflow catalog needs to check and resolve a workflow. */
export interface ToolOrigins {
  /** The MCP servers of the tools file, by name. */
  servers: ReadonlyMap<string, ServerState>;
  /** Whether a tool asks for an approval when no workflow rule waives it (an MCP server's default). */
  gatedByDefault(tool: string): boolean;
  providers: Record<string, NamedProvider>;
}

export interface LoadedTools extends ToolOrigins {
  registry: ToolRegistry;
  close(): Promise<void>;
}

export interface LoadToolsOptions {
  /** The tools file; undefined: no tools but built-in ones. */
  file?: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

/**
 * Read the tools file and build the registry: module tools, HTTP tools, then every MCP server's tools
 * (servers start in parallel). A bad file stops the server (ToolsFileError names it); an MCP server
 * that cannot start is a warning naming it: the workflows that need it refuse to start runs, the
 * others work.
 */
export async function loadTools(options: LoadToolsOptions): Promise<LoadedTools> {
  const env = options.env ?? process.env;
  const registry = new ToolRegistry();
  const closers: Array<() => void | Promise<void>> = [];
  const servers = new Map<string, ServerState>();
  const gated = new Set<string>();
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  if (!options.file) return { registry, servers, gatedByDefault: () => false, providers: {}, close };
  const file = options.file;
  const spec: ToolsFile = readToolsFile(file);
  const host: ToolHost = { dataDir: options.dataDir, onClose: (c) => closers.push(c) };
  const register = (tool: Parameters<ToolRegistry['register']>[0], path: string): void => {
    try {
      registry.register(tool);
    } catch (error) {
      throw new ToolsFileError(file, path, (error as Error).message);
    }
  };
  try {
    for (const [i, specifier] of spec.modules.entries()) {
      for (const tool of await moduleTools(file, i, specifier, host)) register(tool, `modules.${i}`);
    }
    spec.http.forEach((tool, i) => {
      register(httpTool(tool, expandEnv(tool.headers, env, file, `http.${i}.headers`)!), `http.${i}.name`);
    });
    const entries = Object.entries(spec.mcpServers);
    const headers = entries.map(([name, s]) =>
      'url' in s ? expandEnv(s.headers, env, file, `mcpServers.${name}.headers`) : undefined,
    );
    const envs = entries.map(([name, s]) =>
      'command' in s ? expandEnv(s.env, env, file, `mcpServers.${name}.env`) : undefined,
    );
    const connections = await Promise.allSettled(
      // A stdio server's `cwd` is read relative to the tools file, like a module's path.
      entries.map(([name, s], i) =>
        mcp().McpConnection.connect(
          name,
          'command' in s && s.cwd ? { ...s, cwd: resolve(dirname(file), s.cwd) } : s,
          headers[i],
          envs[i],
          {
            info: (line) => options.log?.(line),
            warn: (line) => (options.warn ?? options.log)?.(line),
          },
        ),
      ),
    );
    connections.forEach((outcome, i) => {
      const [name, s] = entries[i];
      if (outcome.status === 'rejected') {
        const reason = (outcome.reason as Error).message;
        servers.set(name, { up: false, reason });
        options.warn?.(
          `MCP server "${name}" (${'url' in s ? s.url : s.command}) did not start: ${reason}; workflows that use it cannot start runs`,
        );
        return;
      }
      const connection = outcome.value;
      closers.push(() => connection.close());
      const install = (): string[] => {
        for (const old of registry.names()) if (old.startsWith(`${name}.`)) registry.unregister(old);
        const names: string[] = [];
        for (const tool of connection.listed()) {
          const trust = mcp().trustOf(tool, s.trusted);
          const definition = mcp().mcpTool(connection, tool, trust);
          registry.register(definition);
          if (trust.gated) gated.add(definition.name);
          else gated.delete(definition.name);
          names.push(definition.name);
        }
        servers.set(name, { up: true, tools: names });
        return names;
      };
      const names = install();
      options.log?.(
        `MCP server "${name}"${s.trusted ? ' (trusted)' : ''}: ${names.length} tools (${names.join(', ')})`,
      );
      connection.onToolsChanged(() => {
        const again = install();
        options.log?.(`MCP server "${name}" changed its tools: ${again.length} now`);
      }); // also called when a lost server is back: it may list other tools now
    });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    registry,
    servers,
    gatedByDefault: (tool) => gated.has(tool),
    providers: spec.providers,
    close,
  };
}
