import type { ApprovalRule, Workflow } from '@parley/contracts';
import { ParleyError } from '@parley/contracts';
import type { ToolRegistry } from '@parley/engine';
import type { ToolOrigins } from '../tools/tool-sources';

/**
 * Tools from the tools file in workflows: `<server>.<tool>` and `<server>.*` in an agent's list,
 * checked when the file is loaded (against the servers that started) and resolved when a run starts:
 * wildcards become the server's tools as listed then, and each tool that its origin gates by default
 * (an untrusted MCP server's, a trusted server's destructive one) gets an approval rule of its own
 * after the workflow's, unless `policies.ungated` names it. The run's workflow thus holds every rule
 * the gates apply (hitl/tool-gates.ts), whatever the tool's origin.
 */

const NO_ORIGINS: ToolOrigins = { servers: new Map(), gatedByDefault: () => false, providers: {} };

/** Why a tool an agent lists cannot be used, or undefined. */
export function toolRefProblem(
  ref: string,
  tools: ToolRegistry,
  origins: ToolOrigins = NO_ORIGINS,
): string | undefined {
  const dot = ref.indexOf('.');
  const server = dot > 0 ? ref.slice(0, dot) : undefined;
  const state = server ? origins.servers.get(server) : undefined;
  if (ref.endsWith('.*')) {
    if (!state)
      return `no MCP server named "${server}" in the tools file (servers: ${[...origins.servers.keys()].join(', ') || 'none'})`;
    return undefined;
  }
  if (state && !state.up) return undefined; // checked when a run starts: the server may answer by then
  if (tools.has(ref)) return undefined;
  if (state?.up)
    return `MCP server "${server}" has no tool "${ref.slice(dot + 1)}" (its tools: ${state.tools.join(', ') || 'none'})`;
  return `no tool named "${ref}" (registered: ${tools.names().join(', ')})`;
}

/** The workflow a run starts with: tools resolved, default gates added; or a coded error. */
export function resolveWorkflowTools(
  wf: Workflow,
  tools: ToolRegistry,
  origins: ToolOrigins = NO_ORIGINS,
): Workflow {
  const serverOf = (ref: string): string | undefined => {
    const dot = ref.indexOf('.');
    return dot > 0 && origins.servers.has(ref.slice(0, dot)) ? ref.slice(0, dot) : undefined;
  };
  for (const agent of wf.agents) {
    for (const ref of agent.tools) {
      const server = serverOf(ref);
      const state = server ? origins.servers.get(server) : undefined;
      if (state && !state.up)
        throw new ParleyError(
          'TOOLS.SERVER_UNAVAILABLE',
          `workflow "${wf.name}" needs MCP server "${server}", which did not start: ${state.reason}`,
          'unavailable',
          undefined,
          { workflow: wf.name, server },
        );
      if (!ref.endsWith('.*') && !tools.has(ref))
        throw new ParleyError(
          'TOOLS.TOOL_UNAVAILABLE',
          `workflow "${wf.name}" needs tool "${ref}", which ${server ? `MCP server "${server}" no longer lists` : 'is not registered'}`,
          'unavailable',
          undefined,
          { workflow: wf.name, tool: ref },
        );
    }
  }
  const expand = (ref: string): string[] => {
    if (!ref.endsWith('.*')) return [ref];
    const state = origins.servers.get(ref.slice(0, -2));
    return state?.up ? state.tools : [];
  };
  const agents = wf.agents.map((a) => ({ ...a, tools: [...new Set(a.tools.flatMap(expand))] }));
  const ungated = new Set((wf.policies.ungated ?? []).flatMap(expand));
  const used = [...new Set(agents.flatMap((a) => a.tools))];
  const defaults: ApprovalRule[] = used
    .filter((tool) => origins.gatedByDefault(tool) && !ungated.has(tool))
    .map((tool) => ({ tool, roles: ['approver'], quorum: 1, fourEyes: false, kind: 'approval' }));
  return {
    ...wf,
    agents,
    policies: { ...wf.policies, approvals: [...wf.policies.approvals, ...defaults] },
  };
}
