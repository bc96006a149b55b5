import { isAbsolute, resolve, dirname } from 'node:path';
import { isDefinedTool, type DefinedTool, type ToolHost } from '@parley/tools-sdk';
import { ToolError, type ToolDefinition } from '@parley/engine';
import { ToolsFileError } from '../tools-file/read-tools-file';

/**
 * The tools of a JavaScript module listed in the tools file: its default export, or `tools`, is a
 * `defineTool` tool, a list of them, or a function of the host that returns them. A path is read
 * relative to the tools file; anything else is a package name.
 */
export async function moduleTools(
  file: string,
  index: number,
  specifier: string,
  host: ToolHost,
): Promise<ToolDefinition[]> {
  const path = `modules.${index}`;
  const target =
    specifier.startsWith('.') || isAbsolute(specifier) ? resolve(dirname(file), specifier) : specifier;
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(target) as Record<string, unknown>;
  } catch (error) {
    throw new ToolsFileError(
      file,
      path,
      `cannot load ${specifier}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  let exported: unknown = loaded.default ?? loaded.tools ?? loaded;
  if (typeof exported === 'function') exported = await (exported as (h: ToolHost) => unknown)(host);
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0 || !list.every(isDefinedTool))
    throw new ToolsFileError(
      file,
      path,
      `${specifier} exports no tools: expected defineTool(...) tools (default export, or "tools"), or a function that returns them`,
    );
  return list.map(adapt);
}

/**
 * A defined tool as the engine runs it. `ToolError` is the SDK's `ToolFailure`; a coded failure from
 * another copy of the SDK (a module with its own node_modules) is recognised by its shape and rebuilt.
 */
function adapt(tool: DefinedTool): ToolDefinition {
  return {
    name: tool.name,
    description: tool.description,
    args: tool.args,
    idempotent: tool.idempotent === true,
    async execute(args, ctx) {
      try {
        return await tool.execute(args, ctx);
      } catch (error) {
        const e = error as { code?: unknown; message?: string; transient?: unknown; retryAfterMs?: unknown };
        if (error instanceof ToolError || typeof e?.code !== 'string') throw error;
        throw new ToolError(e.code, e.message ?? e.code, {
          transient: e.transient === true,
          retryAfterMs: typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined,
        });
      }
    },
  };
}
