import { z } from 'zod';
import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideHandoff } from './handoff.decider';

/** Triage transfers to specialists; a human reviews or overrides each routing. */
export const handoff: PatternModule<WorkflowOf<'handoff'>> = {
  decide: decideHandoff,
  agentRefs: (wf) => [
    { agent: wf.triage, path: 'triage' },
    ...wf.specialists.map((s, i) => ({ agent: s, path: `specialists.${i}` })),
  ],
  toolUsers: (wf) => [wf.triage, ...wf.specialists],
  editSchema: (subject, wf) =>
    subject.type === 'route'
      ? z.object({ to: z.enum([wf.triage, ...wf.specialists] as [string, ...string[]]) })
      : undefined,
};
