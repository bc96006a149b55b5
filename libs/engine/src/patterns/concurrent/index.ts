import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideConcurrent } from './concurrent.decider';

/** Fan-out to workers, fan-in to an aggregator, with a human validation of the aggregate. */
export const concurrent: PatternModule<WorkflowOf<'concurrent'>> = {
  decide: decideConcurrent,
  agentRefs: (wf) => [
    ...wf.workers.map((w, i) => ({ agent: w, path: `workers.${i}` })),
    { agent: wf.aggregator, path: 'aggregator' },
  ],
  toolUsers: (wf) => [...wf.workers, wf.aggregator],
};
