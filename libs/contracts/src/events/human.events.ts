import { z } from 'zod';
import { HumanRefSchema } from './common';

export const HUMAN_REQUEST_KINDS = [
  'approval',
  'escalation',
  'review',
  'confirmation',
  'plan',
  'input',
  /** A tool call that may or may not have happened (interrupted, not idempotent): a human says which. */
  'reconcile',
] as const;
export const HumanRequestKind = z.enum(HUMAN_REQUEST_KINDS);
export type HumanRequestKind = z.infer<typeof HumanRequestKind>;

export const DECISIONS = [
  'approve',
  'reject',
  'edit',
  'feedback',
  'confirm',
  'decline',
  'answer',
  'handback',
  'close',
  'skip',
] as const;
export const Decision = z.enum(DECISIONS);
export type Decision = z.infer<typeof Decision>;
/** Decisions that are nothing without a comment: the text the agent is given. */
export const DECISIONS_NEEDING_COMMENT: readonly Decision[] = ['feedback', 'answer', 'handback'];

/** What the request is about, so that the run knows where to continue once it is resolved. */
export const RequestSubject = z.discriminatedUnion('type', [
  z.object({ type: z.literal('tool-call'), callId: z.string() }),
  z.object({ type: z.literal('stage'), index: z.number().int().min(0) }),
  z.object({ type: z.literal('result') }),
  z.object({ type: z.literal('plan'), revision: z.number().int().min(0) }),
  z.object({ type: z.literal('findings') }),
  z.object({ type: z.literal('draft'), round: z.number().int().min(1) }),
  z.object({ type: z.literal('floor'), turn: z.number().int().min(0) }),
  z.object({ type: z.literal('escalation') }),
  z.object({ type: z.literal('route'), handoff: z.number().int().min(1) }),
]);
export type RequestSubject = z.infer<typeof RequestSubject>;

export const HumanRequestOpened = z.object({
  requestId: z.string().min(1),
  kind: HumanRequestKind,
  subject: RequestSubject,
  title: z.string().min(1),
  /** What is asked, as a sentence for the human. */
  ask: z.string().min(1),
  /** Exactly what the human is shown (tool call and arguments, draft, plan ...). */
  payload: z.unknown(),
  payloadHash: z.string().min(1),
  /** The decisions this request accepts. */
  decisions: z.array(Decision).min(1),
  roles: z.array(z.string().min(1)).min(1),
  quorum: z.number().int().min(1).default(1),
  fourEyes: z.boolean().default(false),
  requester: z.string().min(1),
  deadline: z.iso.datetime().nullable(),
  onTimeout: z
    .object({
      action: z.enum(['reject', 'approve', 'escalate', 'continue']),
      escalateTo: z.string().optional(),
      /** The escalation tiers still ahead (the first is asked when this request expires). */
      chain: z
        .array(z.object({ roles: z.array(z.string().min(1)).min(1), after: z.string().optional() }))
        .optional(),
      /** What the last tier's expiry does (default reject). */
      finally: z.enum(['reject', 'continue']).optional(),
    })
    .nullable(),
  /** 0 for the request as first opened; n for the n-th tier it was escalated to after timeouts. */
  tier: z.number().int().min(0).optional(),
  /**
   * The workflow rule that opened a tool-call gate (`policies.approvals[index]` or
   * `policies.escalations[index]` of the workflow frozen in `run.started`): what its decisions satisfy.
   */
  policy: z.object({ type: z.enum(['approval', 'escalation']), index: z.number().int().min(0) }).optional(),
  /** Escalations carry the structured reason. */
  escalation: z
    .object({
      reason: z.string(),
      context: z.string(),
      suggested_action: z.string(),
      source: z.enum(['agent', 'policy']),
    })
    .optional(),
});

export const HumanRequestClaimed = z.object({ requestId: z.string().min(1), by: HumanRefSchema });
/** The claimer (or an admin) handed the request back: it is nobody's again, anyone entitled may claim it. */
export const HumanRequestReleased = z.object({ requestId: z.string().min(1), by: HumanRefSchema });

export const HumanDecisionRecorded = z.object({
  requestId: z.string().min(1),
  decision: Decision,
  by: HumanRefSchema,
  comment: z.string().max(4000).optional(),
  /** For an edit: the edited payload (a lower refund amount, an edited plan). */
  payload: z.unknown().optional(),
  /** The hash of the payload the human was shown when deciding. */
  payloadHash: z.string().min(1),
});

export const HumanRequestResolved = z.object({
  requestId: z.string().min(1),
  outcome: Decision,
  payload: z.unknown().optional(),
  comment: z.string().optional(),
  deciders: z.array(HumanRefSchema),
});

export const HumanRequestExpired = z.object({
  requestId: z.string().min(1),
  action: z.enum(['reject', 'approve', 'escalate', 'continue']),
  escalateTo: z.string().optional(),
});

/**
 * The run ended (completed, failed or was cancelled) while this request was open: it is closed with
 * no decision and leaves every inbox. Appended together with the run's end, by whoever ended it.
 */
export const HumanRequestClosed = z.object({
  requestId: z.string().min(1),
  because: z.enum(['completed', 'failed', 'cancelled']),
});

/**
 * A human speaks in a run. Version 2; version 1 was `{author: string, text}` (no role), upcast on
 * read by `upcastHumanMessageV1` (a committed fixture log keeps that shape forever).
 */
export const HumanMessagePosted = z.object({ by: HumanRefSchema, text: z.string().min(1).max(8000) });
export function upcastHumanMessageV1(data: unknown): unknown {
  const v1 = data as { author: string; text: string };
  return { by: { id: v1.author, role: 'participant' }, text: v1.text };
}

export const HandoffOverridden = z.object({
  by: HumanRefSchema,
  to: z.string().min(1),
  reason: z.string().min(1),
});
