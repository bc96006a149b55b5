import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideMakerChecker } from './maker-checker.decider';

/** A maker drafts; a checker (a human, up to a round limit, or an agent) approves or sends feedback. */
export const makerChecker: PatternModule<WorkflowOf<'maker-checker'>> = {
  decide: decideMakerChecker,
  agentRefs: (wf) => [
    { agent: wf.maker, path: 'maker' },
    ...(typeof wf.checker === 'string' ? [{ agent: wf.checker, path: 'checker' }] : []),
  ],
  toolUsers: (wf) => [wf.maker],
  noToolsBecause: (wf, agent) =>
    wf.checker === agent
      ? 'it is the checker, whose verdicts are structured outputs, made without tools'
      : undefined,
};
