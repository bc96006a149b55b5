import type { NamedProvider } from '../tools/tools-file/tools-file.schema';

/** What a workflow file's agents get when they name no model, and the providers they may name. */
export interface ModelDefaults {
  /** PARLEY_MODEL; undefined: the schema's default (`offline`). */
  defaultModel?: string;
  /** The tools file's `providers`, by name. */
  providers?: Record<string, NamedProvider>;
}

/**
 * The raw workflow (before the schema) with named providers replaced by what they are
 * (`provider: fast` → `{baseURL, apiKeyEnv}`) and a model for every agent that names none: its
 * provider's, else the workflow provider's, else PARLEY_MODEL. The workflow's `provider` is every
 * agent's that names none. Returns a problem `[path, message]`
 * for an unknown provider name.
 */
export function applyModelDefaults(
  raw: unknown,
  defaults: ModelDefaults,
): { raw: unknown } | { problem: [string, string] } {
  if (!isObject(raw) || !Array.isArray(raw.agents)) return { raw };
  const providers = defaults.providers ?? {};
  const named = (
    value: unknown,
    path: string,
  ): { ok: NamedProvider | undefined } | { problem: [string, string] } => {
    if (typeof value !== 'string') return { ok: undefined };
    const provider = providers[value];
    if (!provider)
      return {
        problem: [
          path,
          `no provider named "${value}" in the tools file (providers: ${Object.keys(providers).join(', ') || 'none'})`,
        ],
      };
    return { ok: provider };
  };
  const copy: Record<string, unknown> = { ...raw };
  const top = named(raw.provider, 'provider');
  if ('problem' in top) return top;
  if (top.ok) copy.provider = connection(top.ok);
  const agents: unknown[] = [];
  for (const [i, agent] of (raw.agents as unknown[]).entries()) {
    if (!isObject(agent)) {
      agents.push(agent);
      continue;
    }
    const own = named(agent.provider, `agents.${i}.provider`);
    if ('problem' in own) return own;
    const next: Record<string, unknown> = { ...agent };
    if (own.ok) next.provider = connection(own.ok);
    // The workflow's provider is every agent's that names none.
    else if (agent.provider === undefined && copy.provider !== undefined) next.provider = copy.provider;
    const model =
      own.ok?.model ?? (agent.provider === undefined ? top.ok?.model : undefined) ?? defaults.defaultModel;
    if (next.model === undefined && model !== undefined) next.model = model;
    agents.push(next);
  }
  copy.agents = agents;
  return { raw: copy };
}

const connection = (p: NamedProvider) => ({
  baseURL: p.baseURL,
  ...(p.apiKeyEnv ? { apiKeyEnv: p.apiKeyEnv } : {}),
});

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
