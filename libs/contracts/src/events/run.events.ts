import { z } from 'zod';
import { ActorSchema } from '../envelope';
import { WorkflowSchema } from '../workflow/workflow.schema';
import { SignedHeadSchema } from '../export/signature.schema';

/**
 * The W3C trace context of a run (optional: written only when tracing is on). `spanId` is the run's
 * own `invoke_workflow` span, `parentSpanId` the span it was started under (an HTTP request with a
 * `traceparent`). Kept in the log, not in memory, so a run that pauses for days, or resumes on
 * another instance after a crash, is still one trace.
 */
export const RunTraceContext = z.object({
  traceId: z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex digits'),
  spanId: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits'),
  parentSpanId: z
    .string()
    .regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits')
    .optional(),
});
export type RunTraceContext = z.infer<typeof RunTraceContext>;

export const RunStarted = z.object({
  /** The workflow as it was when the run started: a run never changes under a later edit of the file. */
  workflow: WorkflowSchema,
  input: z.string(),
  requestedBy: z.string().min(1),
  idempotencyKey: z.string().min(1).optional(),
  /**
   * A fork: the run and seq it copies, the hash of that event there, who forked it (with the role
   * they acted under) and why, and every human who had asked along the original's lineage (four-eyes
   * holds against them all in the fork).
   */
  forkOf: z
    .object({
      runId: z.string(),
      atSeq: z.number().int().positive(),
      head: z.string(),
      by: ActorSchema.optional(),
      note: z.string().optional(),
      askers: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  trace: RunTraceContext.optional(),
});

export const RunCompleted = z.object({ output: z.string() });
export const RunFailed = z.object({ code: z.string().min(1), message: z.string() });
/** `by`: who cancelled (kind, id, role) when a human, an agent's or a service's token did; absent for Parley itself. */
export const RunCancelled = z.object({ reason: z.string().optional(), by: ActorSchema.optional() });
/**
 * A failed run continues from its failed step: who asked (kind, id and the role they acted under),
 * why, and the failure it continues from. Nothing recorded before it is repeated.
 */
export const RunRetried = z.object({
  by: ActorSchema.required({ role: true }),
  reason: z.string().optional(),
  failedCode: z.string().min(1),
});

/**
 * The run came into this log from an export (`POST /api/import`): who imported it (kind, id, role),
 * their note, and the head the export's manifest named. Appended after the imported events, so the
 * import is part of the run's own history; it changes nothing else in the run. `signedBy` and
 * `signedHead` keep the exporting server's public key and its signature of the head it exported, so
 * the imported history can be checked against its origin here too.
 */
export const RunImported = z.object({
  by: ActorSchema.required({ role: true }),
  note: z.string().optional(),
  from: z.object({
    head: z.string().min(1),
    count: z.number().int().positive(),
    exportedAt: z.string().optional(),
    signedBy: z.string().min(1).optional(),
    signedHead: SignedHeadSchema.optional(),
  }),
});
