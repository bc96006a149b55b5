import { z } from 'zod';
import { HumanRefSchema } from '../events/common';
import { Decision } from '../events/human.events';
import { DecisionBody } from '../http/api.schemas';
import { RequestViewSchema, RunViewSchema } from '../http/responses';

/**
 * Parley's extension of the AG-UI protocol (`POST /api/ag-ui/:workflow`, docs/AG-UI.md). AG-UI's
 * own shapes (RunAgentInput, the events, Interrupt, ResumeEntry) are @ag-ui/core's zod schemas; what
 * is here is what Parley puts inside their open fields: an interrupt's `metadata.parley`, a resume
 * entry's `payload`, the `STATE_SNAPSHOT` of a thread, and the `parley:*` CUSTOM events.
 */

/** A resume entry's `payload`: the REST decision body, as-is (`payloadHash` binds it to what was shown). */
export const AgUiResumePayload = DecisionBody;
export type AgUiResumePayload = z.infer<typeof AgUiResumePayload>;

/**
 * An interrupt's `reason`. AG-UI's reason is an open string; Parley says what the request is, or,
 * when the human of this stream cannot answer it now, why not (the `parley:*` reasons).
 */
export const AG_UI_REASONS = {
  approval: 'tool_approval',
  confirmation: 'confirmation',
  review: 'review',
  input: 'input_required',
  plan: 'plan_approval',
  escalation: 'parley:escalation',
  reconcile: 'parley:reconcile',
  /** Four-eyes: this human asked for what the request is about and may not approve it. */
  fourEyes: 'parley:four-eyes',
  /** The escalation is claimed by another human. */
  claimed: 'parley:claimed',
  /** The request is for roles this human does not hold (it was escalated to another tier, or never theirs). */
  otherRole: 'parley:other-role',
  /** This human's vote is counted; the quorum waits for other humans. */
  quorum: 'parley:quorum-pending',
} as const;

/** `Interrupt.metadata.parley`: the whole request, and whether this stream's human may answer it. */
export const AgUiInterruptDetails = z.object({
  runId: z.string(),
  request: RequestViewSchema,
  /** False when the reason is one of the `parley:*` reasons that say why this human cannot answer. */
  answerable: z.boolean(),
});
export type AgUiInterruptDetails = z.infer<typeof AgUiInterruptDetails>;

/**
 * The `STATE_SNAPSHOT` of a thread (a run): the run view without its transcript (the messages carry
 * it), `seq` of the last event this stream accounted for, and the AG-UI message ids the thread has
 * taken in. A client sends it back as `RunAgentInput.state`: the next stream continues after `seq`
 * (no gap, no repeat) and the messages named here are not posted again.
 */
export const AgUiThreadState = RunViewSchema.omit({ transcript: true }).extend({
  messageIds: z.array(z.string()),
});
export type AgUiThreadState = z.infer<typeof AgUiThreadState>;

/** What a client sends back of that state (anything else in it is ignored). */
export const AgUiThreadPosition = z.object({
  seq: z.number().int().min(0).optional(),
  messageIds: z.array(z.string()).max(10_000).optional(),
});

const Vote = z.object({ by: HumanRefSchema, decision: Decision });

/** The `parley:*` CUSTOM events: `{type: 'CUSTOM', name, value}`, `value` as below. */
export const AG_UI_CUSTOM_EVENTS = {
  /** A human spoke in the run (a group chat), whoever it was: every client sees every message. */
  'parley:human-message': z.object({ seq: z.number().int(), by: HumanRefSchema, text: z.string() }),
  /** A request opened (its interrupt follows in RUN_FINISHED when the run stops on it). */
  'parley:request-opened': z.object({ seq: z.number().int(), request: RequestViewSchema }),
  /** A human decided (this stream's human or another): the vote and how far the quorum is. */
  'parley:decision-recorded': z.object({
    seq: z.number().int(),
    requestId: z.string(),
    vote: Vote.extend({ comment: z.string().optional() }),
    votes: z.number().int(),
    quorum: z.number().int(),
  }),
  'parley:request-resolved': z.object({
    seq: z.number().int(),
    requestId: z.string(),
    outcome: Decision,
    deciders: z.array(HumanRefSchema),
  }),
  'parley:request-claimed': z.object({ seq: z.number().int(), requestId: z.string(), by: HumanRefSchema }),
  'parley:request-released': z.object({ seq: z.number().int(), requestId: z.string(), by: HumanRefSchema }),
  /** Its deadline passed; `escalateTo`: the role the next request (a `parley:request-opened`) is for. */
  'parley:request-expired': z.object({
    seq: z.number().int(),
    requestId: z.string(),
    action: z.enum(['reject', 'approve', 'escalate', 'continue']),
    escalateTo: z.string().optional(),
  }),
  'parley:request-closed': z.object({
    seq: z.number().int(),
    requestId: z.string(),
    because: z.enum(['completed', 'failed', 'cancelled']),
  }),
  /** A handoff moved the conversation (an agent's or a human's re-route). */
  'parley:handoff': z.object({
    seq: z.number().int(),
    to: z.string(),
    reason: z.string(),
    by: z.string(),
  }),
} as const;
export type AgUiCustomEventName = keyof typeof AG_UI_CUSTOM_EVENTS;
export type AgUiCustomEventValue<N extends AgUiCustomEventName> = z.infer<(typeof AG_UI_CUSTOM_EVENTS)[N]>;
