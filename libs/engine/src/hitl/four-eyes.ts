import type { HumanRequestState, RunState } from '../run-state';

/**
 * Who may not approve `request` under four-eyes: whoever asked for what it is about. That is the
 * run's requester, every human who asked along its lineage (the forkers of a fork, the original's
 * askers) or posted a message the agents acted on, and, for a tool call, every human whose edit of
 * its arguments led to this request (an approver who raises a refund past a stricter rule asked for
 * the new amount, and may not then approve it).
 */
export function askersOf(state: RunState, request: HumanRequestState): Set<string> {
  const askers = new Set([request.requester, ...state.askers]);
  const subject = request.subject;
  if (subject.type === 'tool-call') {
    for (const r of state.requests) {
      if (r === request || r.openedSeq >= request.openedSeq) continue;
      if (r.subject.type !== 'tool-call' || r.subject.callId !== subject.callId) continue;
      if (r.status === 'resolved' && r.outcome === 'edit')
        for (const v of r.votes) if (v.decision === 'edit') askers.add(v.by.id);
    }
  }
  return askers;
}
