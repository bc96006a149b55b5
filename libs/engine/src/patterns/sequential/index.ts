import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideSequential } from './sequential.decider';

/** A pipeline of stages, each with an optional human review. */
export const sequential: PatternModule<WorkflowOf<'sequential'>> = {
  decide: decideSequential,
  agentRefs: (wf) => wf.stages.map((s, i) => ({ agent: s.agent, path: `stages.${i}.agent` })),
  toolUsers: (wf) => wf.stages.map((s) => s.agent),
};
