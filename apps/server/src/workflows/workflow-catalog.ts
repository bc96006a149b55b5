import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Workflow } from '@parley/contracts';
import { NotFoundError, ParleyError, WorkflowSchema, issuePath } from '@parley/contracts';
import { parseExpression, patternOf, ToolRegistry } from '@parley/engine';
import type { ToolOrigins } from '../tools/tool-sources';
import { applyModelDefaults, type ModelDefaults } from './workflow-models';
import { resolveWorkflowTools, toolRefProblem } from './workflow-tools';

/** A workflow file that cannot be used: names the file, the path of the bad field, and what was expected. */
export class WorkflowFileError extends ParleyError {
  constructor(file: string, path: string, message: string) {
    super(
      'WORKFLOW.INVALID',
      `${file}: ${path ? `${path}: ` : ''}${message}`,
      'validation',
      path || undefined,
      { file },
    );
  }
}

/** Workflows are files (`workflows/*.yaml`), validated with zod and cross-checked against the agents and tools. */
export class WorkflowCatalog {
  private readonly workflows = new Map<string, Workflow>();

  constructor(
    private readonly tools: ToolRegistry,
    private readonly origins?: ToolOrigins,
    private readonly models: ModelDefaults = {},
  ) {}

  loadDirectory(dir: string): this {
    if (!existsSync(dir)) return this;
    for (const name of readdirSync(dir).sort()) {
      if (!/\.ya?ml$/.test(name)) continue;
      const file = join(dir, name);
      this.add(
        parseWorkflowFile(relative(process.cwd(), file) || file, readFileSync(file, 'utf8'), this.tools, {
          origins: this.origins,
          models: { providers: this.origins?.providers, ...this.models },
        }),
      );
    }
    return this;
  }

  add(workflow: Workflow): this {
    this.workflows.set(workflow.name, workflow);
    return this;
  }

  list(): Workflow[] {
    return [...this.workflows.values()];
  }

  /**
   * The workflow a run starts with: its tools resolved as they are listed now, default gates added
   * (workflow-tools.ts); a coded 503 when a tool server it needs is down.
   */
  get(name: string): Workflow {
    return resolveWorkflowTools(this.definition(name), this.tools, this.origins);
  }

  /** The workflow as its file defines it. */
  definition(name: string): Workflow {
    const workflow = this.workflows.get(name);
    if (!workflow) {
      throw new NotFoundError(
        'WORKFLOW.NOT_FOUND',
        `no workflow named "${name}" (known: ${[...this.workflows.keys()].join(', ') || 'none'})`,
      );
    }
    return workflow;
  }

  has(name: string): boolean {
    return this.workflows.has(name);
  }
}

export interface WorkflowContext {
  origins?: ToolOrigins;
  models?: ModelDefaults;
}

export function parseWorkflowFile(
  file: string,
  text: string,
  tools: ToolRegistry,
  context: WorkflowContext = {},
): Workflow {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new WorkflowFileError(file, '', `not valid YAML: ${(error as Error).message}`);
  }
  const withModels = applyModelDefaults(raw, context.models ?? {});
  if ('problem' in withModels) throw new WorkflowFileError(file, ...withModels.problem);
  raw = withModels.raw;
  const parsed = WorkflowSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WorkflowFileError(file, issuePath(issue), issue.message);
  }
  const wf = parsed.data;
  const expectedName = basename(file).replace(/\.ya?ml$/, '');
  if (wf.name !== expectedName)
    throw new WorkflowFileError(
      file,
      'name',
      `expected "${expectedName}" (the file's name), got "${wf.name}"`,
    );
  checkReferences(file, wf, tools, context.origins);
  return wf;
}

function checkReferences(file: string, wf: Workflow, tools: ToolRegistry, origins?: ToolOrigins): void {
  const agents = new Set(wf.agents.map((a) => a.name));
  const need = (name: string, path: string): void => {
    if (!agents.has(name))
      throw new WorkflowFileError(
        file,
        path,
        `no agent named "${name}" in agents (${[...agents].join(', ')})`,
      );
  };
  const seen = new Set<string>();
  wf.agents.forEach((a, i) => {
    if (seen.has(a.name))
      throw new WorkflowFileError(file, `agents.${i}.name`, `"${a.name}" is defined twice`);
    seen.add(a.name);
    a.tools.forEach((t, j) => {
      const problem = toolRefProblem(t, tools, origins);
      if (problem) throw new WorkflowFileError(file, `agents.${i}.tools.${j}`, problem);
    });
  });
  // a tool named in `ungated` that no tools file knows is a typo that would leave a gate in place
  (wf.policies.ungated ?? []).forEach((t, i) => {
    const problem = toolRefProblem(t, tools, origins);
    if (problem) throw new WorkflowFileError(file, `policies.ungated.${i}`, problem);
  });
  const pattern = patternOf(wf);
  for (const ref of pattern.agentRefs(wf)) {
    if (ref.agent === undefined) throw new WorkflowFileError(file, ref.path, ref.required ?? 'required');
    need(ref.agent, ref.path);
  }
  checkToolsUsable(file, wf);
  const check = (expr: string | undefined, path: string): void => {
    if (!expr) return;
    try {
      parseExpression(expr);
    } catch (error) {
      throw new WorkflowFileError(file, path, `not a valid expression: ${(error as Error).message}`);
    }
  };
  wf.policies.approvals.forEach((r, i) => check(r.when, `policies.approvals.${i}.when`));
  wf.policies.escalations.forEach((r, i) => {
    check(r.when, `policies.escalations.${i}.when`);
    if (r.inputMatches) {
      try {
        new RegExp(r.inputMatches, 'i');
      } catch (error) {
        throw new WorkflowFileError(
          file,
          `policies.escalations.${i}.inputMatches`,
          `not a valid regular expression: ${(error as Error).message}`,
        );
      }
    }
    if (!r.when && !r.inputMatches)
      throw new WorkflowFileError(
        file,
        `policies.escalations.${i}`,
        'needs "when" (with "tool") or "inputMatches"',
      );
  });
}

function checkToolsUsable(file: string, wf: Workflow): void {
  const pattern = patternOf(wf);
  const users = new Set(pattern.toolUsers(wf));
  wf.agents.forEach((a, i) => {
    if (a.tools.length === 0 || users.has(a.name)) return;
    throw new WorkflowFileError(
      file,
      `agents.${i}.tools.0`,
      `"${a.name}" cannot use tools in a ${wf.pattern} workflow: ${pattern.noToolsBecause?.(wf, a.name) ?? 'it never speaks in this workflow'}; only ${[...users].join(', ')} call tools here`,
    );
  });
}
