import type { PatternModule, WorkflowOf } from '../pattern-module';
import { decideGroupChat } from './group-chat.decider';

/** Participants take turns (round-robin or a manager's choice); humans take the floor or speak any time. */
export const groupChat: PatternModule<WorkflowOf<'group-chat'>> = {
  decide: decideGroupChat,
  agentRefs: (wf) => [
    ...wf.participants.map((p, i) => ({ agent: p, path: `participants.${i}` })),
    ...(wf.selection === 'manager'
      ? [{ agent: wf.manager, path: 'manager', required: 'required when selection is "manager"' }]
      : []),
  ],
  toolUsers: (wf) => wf.participants,
  noToolsBecause: (wf, agent) =>
    wf.manager === agent
      ? 'it is the manager, whose speaker selections are structured outputs, made without tools'
      : undefined,
};
