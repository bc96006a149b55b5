import { z } from 'zod';
import { ActorSchema } from '../envelope';
import { HumanRefSchema } from '../events/common';
import { Decision, HumanRequestOpened } from '../events/human.events';

/**
 * What the REST API answers, once: the server builds these shapes, the console, the CLI and the
 * tests read them with these types (and the tests parse them with these schemas).
 */

export const RunStatusSchema = z.enum(['running', 'waiting', 'completed', 'failed', 'cancelled']);
export const RequestStatusSchema = z.enum(['open', 'resolved', 'expired', 'closed']);

/** A run as lists show it (`GET /api/runs`). */
export const RunSummarySchema = z.object({
  runId: z.string(),
  workflow: z.string(),
  pattern: z.string(),
  status: RunStatusSchema,
  requestedBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  seq: z.number().int(),
  openRequests: z.number().int(),
  currentAgent: z.string().optional(),
  /** The input's first line, at most 120 characters. */
  title: z.string().optional(),
  /** What the run waits on: one entry per open request, its kind and the roles that may answer. */
  waitingOn: z
    .array(z.object({ requestId: z.string(), kind: z.string(), roles: z.array(z.string()) }))
    .optional(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const TranscriptEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  role: z.enum(['agent', 'human', 'tool', 'system']),
  speaker: z.string(),
  content: z.string(),
});
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;

export const VoteSchema = z.object({
  decision: Decision,
  by: HumanRefSchema,
  comment: z.string().optional(),
  payload: z.unknown().optional(),
  payloadHash: z.string().optional(),
  seq: z.number().int(),
  at: z.string(),
});

/** A human request with what a decider is shown now and the hash to decide with (`GET /api/requests/:id`). */
export const RequestViewSchema = HumanRequestOpened.pick({
  kind: true,
  subject: true,
  title: true,
  ask: true,
  decisions: true,
  roles: true,
  quorum: true,
  fourEyes: true,
  requester: true,
  deadline: true,
  onTimeout: true,
}).extend({
  id: z.string(),
  runId: z.string().optional(),
  status: RequestStatusSchema,
  payload: z.unknown(),
  payloadHash: z.string(),
  editedBy: HumanRefSchema.nullable().optional(),
  createdAt: z.string(),
  claimedBy: HumanRefSchema.nullable(),
  votes: z.array(VoteSchema),
  outcome: z.string().nullable(),
  escalation: HumanRequestOpened.shape.escalation.unwrap().nullable(),
  /**
   * The JSON Schema an edited payload must satisfy (`GET /api/requests/:id` only, when the request
   * takes an edit): clients generate their edit form from it.
   */
  editSchema: z.record(z.string(), z.unknown()).optional(),
});
export type RequestView = z.infer<typeof RequestViewSchema>;

/** A run with its transcript, pending requests and tool calls (`GET /api/runs/:runId`). */
export const RunViewSchema = z.object({
  runId: z.string(),
  workflow: z.string(),
  pattern: z.string(),
  status: RunStatusSchema,
  requestedBy: z.string(),
  input: z.string(),
  output: z.string().nullable(),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  seq: z.number().int(),
  currentAgent: z.string().nullable(),
  transcript: z.array(TranscriptEntrySchema),
  pendingRequests: z.array(RequestViewSchema),
  toolCalls: z.array(
    z.object({
      callId: z.string(),
      tool: z.string(),
      args: z.unknown(),
      status: z.enum(['requested', 'started', 'completed', 'failed', 'rejected']),
      result: z.unknown(),
      error: z.string().nullable(),
    }),
  ),
  plan: z.unknown(),
  /** What a human may do in this run besides answering its requests (its pattern says). */
  controls: z.object({ speak: z.boolean(), reroute: z.array(z.string()) }),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** An action on a run (not a decision on a request): who took it, under which role, and why. */
export const AuditActionSchema = z.object({
  type: z.enum([
    'run.started',
    'run.cancelled',
    'run.imported',
    'run.retried',
    'handoff.overridden',
    'human-request.claimed',
    'human-request.released',
  ]),
  seq: z.number().int(),
  at: z.string(),
  by: ActorSchema,
  /** The reason, the note or the fork's note, as they gave it. */
  note: z.string().optional(),
  /** A fork: the run and seq it was forked from. */
  forkOf: z.object({ runId: z.string(), atSeq: z.number().int() }).optional(),
  /** A re-route: the agent the conversation went to. */
  to: z.string().optional(),
  /** A claim: the request claimed. */
  requestId: z.string().optional(),
});
export type AuditAction = z.infer<typeof AuditActionSchema>;

/** Who decided one request, when, on what information, and what the agents did next. */
export const AuditEntrySchema = z.object({
  requestId: z.string(),
  kind: z.string(),
  title: z.string(),
  ask: z.string(),
  /** Exactly what the human was shown, and its hash. */
  shown: z.object({ payload: z.unknown(), payloadHash: z.string() }),
  roles: z.array(z.string()),
  opened: z.object({ seq: z.number().int(), at: z.string() }),
  claims: z.array(z.object({ by: HumanRefSchema, seq: z.number().int(), at: z.string() })),
  decisions: z.array(
    z.object({
      by: HumanRefSchema,
      decision: z.string(),
      comment: z.string().nullable(),
      /** The hash of the payload the decision was taken on. */
      payloadHash: z.string(),
      editedPayload: z.unknown(),
      seq: z.number().int(),
      at: z.string(),
    }),
  ),
  outcome: z
    .object({
      status: z.enum(['resolved', 'expired', 'closed']),
      outcome: z.string(),
      seq: z.number().int(),
      at: z.string(),
    })
    .nullable(),
  /** What happened next: the first facts the run recorded after the request closed. */
  next: z.array(
    z.object({ seq: z.number().int(), type: z.string(), actor: z.string(), summary: z.string() }),
  ),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** `GET /api/runs/:runId/audit`: every decision on every request, and every action on the run. */
export const AuditResponseSchema = z.object({
  runId: z.string(),
  requests: z.array(AuditEntrySchema),
  actions: z.array(AuditActionSchema),
});
export type AuditResponse = z.infer<typeof AuditResponseSchema>;
