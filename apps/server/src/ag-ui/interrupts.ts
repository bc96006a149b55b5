import type { Interrupt } from '@ag-ui/core';
import {
  AG_UI_REASONS,
  AgUiResumePayload,
  ParleyError,
  inputJsonSchema,
  type AgUiInterruptDetails,
  type HumanRequestKind,
} from '@parley/contracts';
import {
  decideHumanCommand,
  requestView,
  shownPayload,
  type HumanRequestState,
  type RunState,
} from '@parley/engine';
import { z } from 'zod';
import { acting } from '../auth/acting';
import type { Human } from '../auth/identity';

const KIND_REASONS: Record<HumanRequestKind, string> = {
  approval: AG_UI_REASONS.approval,
  confirmation: AG_UI_REASONS.confirmation,
  review: AG_UI_REASONS.review,
  input: AG_UI_REASONS.input,
  plan: AG_UI_REASONS.plan,
  escalation: AG_UI_REASONS.escalation,
  reconcile: AG_UI_REASONS.reconcile,
};

/** Why the decider refuses this human (the same pure check a decision goes through) → a `parley:*` reason. */
const REFUSAL_REASONS: Partial<Record<string, string>> = {
  'REQUEST.FOUR_EYES': AG_UI_REASONS.fourEyes,
  'REQUEST.FORBIDDEN': AG_UI_REASONS.otherRole,
  'REQUEST.CLAIMED_BY_OTHER': AG_UI_REASONS.claimed,
  'REQUEST.ALREADY_DECIDED': AG_UI_REASONS.quorum,
  'AUTH.NOT_A_HUMAN': AG_UI_REASONS.otherRole,
};

/** One interrupt per open request of the run, as `human` is to see it. */
export function interruptsOf(state: RunState, human: Human, now: Date): Interrupt[] {
  return state.requests.filter((r) => r.status === 'open').map((r) => interruptOf(state, r, human, now));
}

export function interruptOf(state: RunState, request: HumanRequestState, human: Human, now: Date): Interrupt {
  const refusal = refusalOf(state, request, human, now);
  const details: AgUiInterruptDetails = {
    runId: state.runId,
    request: { ...requestView(request), runId: state.runId },
    answerable: refusal === undefined,
  };
  return {
    id: request.requestId,
    reason: (refusal && REFUSAL_REASONS[refusal]) ?? KIND_REASONS[request.kind],
    message: request.ask,
    ...(request.subject.type === 'tool-call' ? { toolCallId: request.subject.callId } : {}),
    responseSchema: responseSchemaOf(request),
    ...(request.deadline ? { expiresAt: request.deadline } : {}),
    metadata: { parley: details },
  };
}

/**
 * The JSON Schema of a resume entry's `payload` for this request: the REST decision body with the
 * decisions this request accepts, and the hash of what it shows now.
 */
export function responseSchemaOf(request: HumanRequestState): Record<string, unknown> {
  const schema = AgUiResumePayload.extend({
    decision: z.enum(request.decisions as [string, ...string[]]),
    payloadHash: z
      .string()
      .describe(`the hash of what the request shows now: ${shownPayload(request).payloadHash}`)
      .optional(),
  });
  return inputJsonSchema(schema);
}

/** The code the decider would refuse `human`'s answer with (a dry run on the run's state), or undefined. */
function refusalOf(state: RunState, request: HumanRequestState, human: Human, now: Date): string | undefined {
  const decision = request.decisions.find((d) => d !== 'edit') ?? request.decisions[0];
  try {
    const { result } = decideHumanCommand(
      state,
      acting(human),
      {
        type: 'request.decide',
        requestId: request.requestId,
        decision,
        comment: 'dry run',
        payloadHash: shownPayload(request).payloadHash,
      },
      { now, validateEdit: () => undefined },
    );
    // the same decision again changes nothing: this human has voted on what the request shows now
    return result.status === 'unchanged' ? 'REQUEST.ALREADY_DECIDED' : undefined;
  } catch (error) {
    if (error instanceof ParleyError) return error.code;
    throw error;
  }
}
