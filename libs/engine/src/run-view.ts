import type { RequestView, RunView } from '@parley/contracts';
import { shownPayload } from './human-commands';
import type { RunState } from './run-state';

/** What the API shows of a run: its state folded from the log, without internal bookkeeping. */
export function runView(state: RunState): RunView {
  return {
    runId: state.runId,
    workflow: state.workflow.name,
    pattern: state.workflow.pattern,
    status: state.status,
    requestedBy: state.requestedBy,
    input: state.input,
    output: state.output ?? null,
    failure: state.failure ?? null,
    createdAt: state.startedAt,
    updatedAt: state.updatedAt,
    seq: state.seq,
    currentAgent: state.currentAgent ?? null,
    transcript: state.transcript,
    pendingRequests: state.requests.filter((r) => r.status === 'open').map(requestView),
    toolCalls: state.toolCalls.map((t) => ({
      callId: t.callId,
      tool: t.tool,
      args: t.args,
      status: t.status,
      result: t.result ?? null,
      error: t.error ?? null,
    })),
    plan: state.plans[state.plans.length - 1] ?? null,
  };
}

export function requestView(r: RunState['requests'][number] & { runId?: string }): RequestView {
  // What a decider is shown now (edits by earlier approvers included) and the hash to decide with.
  const shown = shownPayload(r);
  return {
    id: r.requestId,
    kind: r.kind,
    status: r.status,
    subject: r.subject,
    title: r.title,
    ask: r.ask,
    payload: shown.payload,
    payloadHash: shown.payloadHash,
    editedBy: shown.editedBy,
    decisions: r.decisions,
    roles: r.roles,
    quorum: r.quorum,
    fourEyes: r.fourEyes,
    requester: r.requester,
    createdAt: r.openedAt,
    deadline: r.deadline,
    onTimeout: r.onTimeout,
    claimedBy: r.claimedBy ?? null,
    votes: r.votes,
    outcome: r.outcome ?? r.expiredAction ?? null,
    escalation: r.escalation ?? null,
  };
}
