import type { RequestSubject, Workflow } from '@parley/contracts';
import type { z } from 'zod';
import type { RunState } from '../run-state';
import type { DecideContext, Step } from '../steps';

/** The workflow of one pattern: `WorkflowOf<'handoff'>` has `triage` and `specialists`. */
export type WorkflowOf<P extends Workflow['pattern']> = Extract<Workflow, { pattern: P }>;

/** An agent a workflow names, and the path of the field that names it (checked when the file loads). */
export interface AgentRef {
  /** Undefined: the field is missing although the workflow needs it (`required` says why). */
  agent: string | undefined;
  path: string;
  required?: string;
}

/**
 * Everything Parley must know about one orchestration pattern, in its own folder. The registry
 * (`patterns/registry.ts`) maps every pattern of the workflow schema to its module; a pattern added to
 * the schema without a module does not compile.
 */
export interface PatternModule<W extends Workflow> {
  /** The next step of a run of this pattern once the cross-pattern concerns are settled (decide.ts). */
  decide(state: RunState, wf: W, ctx: DecideContext): Step;
  /** Every agent the workflow names in its pattern fields (each must be in `agents`). */
  agentRefs(wf: W): AgentRef[];
  /** The agents whose turn is a tool loop: only they may list `tools:`. */
  toolUsers(wf: W): string[];
  /** Why an agent that is not a tool user cannot call tools (for the load error); default: it never speaks. */
  noToolsBecause?(wf: W, agent: string): string | undefined;
  /**
   * The schema of an edited payload for a request about `subject` (tool-call edits aside: the tool's
   * own schema checks those). Undefined: the generic edit (`{output}`, `{draft}` for a draft).
   */
  editSchema?(subject: RequestSubject, wf: W): z.ZodType | undefined;
}
