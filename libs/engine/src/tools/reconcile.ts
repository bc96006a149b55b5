import type { NewEvent } from '@parley/contracts';
import { effectiveArgs } from '../hitl/tool-gates';
import { openRequestEvent, requestsAbout } from '../hitl/requests';
import { SYSTEM_ACTOR, last, sha256 } from '../patterns/shared';
import type { HumanRequestState, RunState, ToolCallState } from '../run-state';
import type { DecideContext, Step } from '../steps';

/**
 * Exactly once, or a human decides. A call whose `tool-call.started` is in the log with no result
 * was interrupted (a crash, a move to another instance) at a moment when its effect may or may not
 * have happened. An idempotent tool is simply run again with the same key. Any other is never run
 * again blindly: the run opens a `reconcile` request about the call, and the human who answers it
 * (attributed like any decision) says what happened:
 *
 * - `answer`: it happened; the call is completed with the decision's `payload` as its result (else
 *   the comment), marked reconciled;
 * - `approve`: run it again, with the same idempotency key (still under the call's gates);
 * - `reject`: fail the step (`tool-call.failed`, TOOL.OUTCOME_UNKNOWN); the agent is told.
 */
export const RECONCILE_DECISIONS = ['answer', 'approve', 'reject'] as const;

export function reconcileRequests(state: RunState, callId: string): HumanRequestState[] {
  return requestsAbout(state, (s) => s.type === 'tool-call' && s.callId === callId).filter(
    (r) => r.kind === 'reconcile',
  );
}

/**
 * Which started calls were interrupted. A call whose `tool-call.started` this process appended and
 * whose effect it has not begun yet (a kick that took over the drive decides it again) cannot have
 * acted: it may be begun without a human. An idempotent tool's call may always be run again. Any
 * other started call without a result may have acted (a crash, a move to another instance).
 */
export class InterruptedCalls {
  private readonly intentsHere = new Set<string>();
  constructor(private readonly isIdempotent: (tool: string) => boolean) {}

  /** The call's `tool-call.started` is being appended by this process. */
  intended(idempotencyKey: string): void {
    this.intentsHere.add(idempotencyKey);
  }

  /** The call's effect begins: from here on, it may have acted. */
  begun(idempotencyKey: string): void {
    this.intentsHere.delete(idempotencyKey);
  }

  interrupted(call: ToolCallState): boolean {
    return (
      call.status === 'started' && !this.intentsHere.has(call.idempotencyKey) && !this.isIdempotent(call.tool)
    );
  }
}

export type Recovery =
  /** Put the interrupted attempt to a human (the request's opening). */
  | { kind: 'ask'; events: NewEvent[] }
  /** A human said run it again: the new attempt's intent, then the call. */
  | { kind: 'rerun'; events: NewEvent[] }
  /** A human is deciding (or has, and the run's decider acts on it). */
  | { kind: 'wait' };

/** What the engine does with a started call of a tool that is not idempotent, before running it. */
export function recoverStartedCall(state: RunState, ctx: DecideContext, call: ToolCallState): Recovery {
  const latest = last(reconcileRequests(state, call.callId));
  const startedSeq = call.startedSeq ?? call.seq;
  if (!latest || latest.openedSeq < startedSeq) {
    const args = effectiveArgs(state, call);
    const payload = { tool: call.tool, args, idempotencyKey: call.idempotencyKey };
    return {
      kind: 'ask',
      events: [
        openRequestEvent(state, ctx, {
          kind: 'reconcile',
          subject: { type: 'tool-call', callId: call.callId },
          title: `Did ${call.tool} happen?`,
          ask: `${call.tool} was started with ${JSON.stringify(args)} (idempotency key ${call.idempotencyKey}) and stopped before its result was recorded: it may or may not have happened. Answer with what happened (its result), approve to run it again with the same key, or reject to fail the step.`,
          payload,
          payloadHash: sha256(payload),
          decisions: [...RECONCILE_DECISIONS],
          gate: { roles: ['approver'] },
        }),
      ],
    };
  }
  if (latest.status === 'resolved' && latest.outcome === 'approve' && startedSeq < latest.closedSeq!)
    return {
      kind: 'rerun',
      events: [
        {
          type: 'tool-call.started',
          actor: SYSTEM_ACTOR,
          data: { callId: call.callId, idempotencyKey: call.idempotencyKey },
        },
      ],
    };
  return { kind: 'wait' };
}

/**
 * For the run's decider: a call whose latest request is a reconcile request waits for it, or is
 * settled as the human said. Undefined: run it again (`approve`), through the call's gates.
 */
export function settleReconciled(call: ToolCallState, request: HumanRequestState): Step | 'wait' | undefined {
  if (request.status !== 'resolved') return 'wait';
  const requestId = request.requestId;
  switch (request.outcome) {
    case 'approve':
      return undefined;
    case 'answer':
      return {
        kind: 'append',
        events: [
          {
            type: 'tool-call.completed',
            actor: SYSTEM_ACTOR,
            data: {
              callId: call.callId,
              result: request.outcomePayload ?? request.outcomeComment ?? null,
              reconciled: true,
              requestId,
            },
          },
        ],
      };
    default:
      return {
        kind: 'append',
        events: [
          {
            type: 'tool-call.failed',
            actor: SYSTEM_ACTOR,
            data: {
              callId: call.callId,
              code: 'TOOL.OUTCOME_UNKNOWN',
              message: `${call.tool} may or may not have happened; failed by a human${request.outcomeComment ? `: ${request.outcomeComment}` : ''}`,
              requestId,
            },
          },
        ],
      };
  }
}
