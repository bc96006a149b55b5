import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideSingleAgent } from './single-agent.decider';

/** One agent with tools: its gates, escalation rules and confirmations. */
export const singleAgent: PatternModule<WorkflowOf<'single-agent'>> = {
  decide: decideSingleAgent,
  agentRefs: (wf) => [{ agent: wf.agent, path: 'agent' }],
  toolUsers: (wf) => [wf.agent],
};
