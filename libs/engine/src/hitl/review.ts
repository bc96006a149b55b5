import type { Gate, HumanRequestKind, RequestSubject } from '@parley/contracts';
import { last } from '../patterns/shared';
import type { RunState } from '../run-state';
import type { DecideContext, Step } from '../steps';
import { escalateExpired } from './escalation-chain';
import { DECISIONS_BY_KIND, openRequestEvent, outcomeOf, requestsAbout } from './requests';

export type ReviewResult =
  | { status: 'pending'; step: Step }
  | { status: 'approved'; value: unknown; edited: boolean }
  | { status: 'feedback'; comment: string }
  | { status: 'rejected'; comment: string };

/**
 * The review loop shared by every pattern's human checkpoint: the latest output `call` is shown
 * to a human (the latest request about `subject`); approve / edit / feedback / reject.
 */
export function review(
  state: RunState,
  ctx: DecideContext,
  options: {
    subject: RequestSubject;
    sameSubject: (s: RequestSubject) => boolean;
    gate: Gate;
    kind?: HumanRequestKind;
    /** Seq of the output under review: a request opened before it is about an older version. */
    outputSeq: number;
    title: string;
    ask: string;
    payload: unknown;
    allowFeedback: boolean;
  },
): ReviewResult {
  const latest = last(
    requestsAbout(state, options.sameSubject).filter((r) => r.openedSeq > options.outputSeq),
  );
  if (!latest) {
    const kind = options.kind ?? 'review';
    const decisions = DECISIONS_BY_KIND[kind].filter((d) => options.allowFeedback || d !== 'feedback');
    return {
      status: 'pending',
      step: {
        kind: 'append',
        events: [
          openRequestEvent(state, ctx, {
            kind,
            subject: options.subject,
            title: options.title,
            ask: options.ask,
            payload: options.payload,
            gate: options.gate,
            decisions,
          }),
        ],
      },
    };
  }
  const outcome = outcomeOf(latest);
  switch (outcome) {
    case 'open':
      return { status: 'pending', step: { kind: 'wait' } };
    case 'escalated':
      return { status: 'pending', step: escalateExpired(state, ctx, latest) };
    case 'approve':
    case 'confirm':
    case 'skip':
      return { status: 'approved', value: options.payload, edited: false };
    case 'edit':
      return { status: 'approved', value: latest.outcomePayload ?? options.payload, edited: true };
    case 'feedback':
    case 'answer':
    case 'handback':
      return { status: 'feedback', comment: latest.outcomeComment ?? 'Please revise.' };
    default:
      return { status: 'rejected', comment: latest.outcomeComment ?? 'Rejected.' };
  }
}
