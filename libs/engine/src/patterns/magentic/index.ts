import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideMagentic, planSchema } from './magentic.decider';

/** A manager plans, keeps a progress ledger and delegates to specialists; humans approve the plan. */
export const magentic: PatternModule<WorkflowOf<'magentic'>> = {
  decide: decideMagentic,
  agentRefs: (wf) => [
    { agent: wf.manager, path: 'manager' },
    ...wf.specialists.map((s, i) => ({ agent: s, path: `specialists.${i}` })),
  ],
  toolUsers: (wf) => wf.specialists,
  noToolsBecause: (wf, agent) =>
    wf.manager === agent
      ? 'it is the manager, whose plans and ledgers are structured outputs, made without tools'
      : undefined,
  editSchema: (subject, wf) => (subject.type === 'plan' ? planSchema(wf.specialists) : undefined),
};
