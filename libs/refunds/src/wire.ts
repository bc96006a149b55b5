import { z } from 'zod';

/**
 * The refunds service's wire format: what `process_refund` sends and what the service answers.
 * The service is the example workflows' payment API, shared by every Parley instance of a cluster:
 * it applies each `Idempotency-Key` once, as a real payment API does.
 */
export const RefundRequestSchema = z.strictObject({
  runId: z.string().min(1),
  orderId: z.string().min(1),
  amount: z.number().positive().max(100_000),
  reason: z.string().min(1),
});
export type RefundRequest = z.infer<typeof RefundRequestSchema>;

export const RefundRowSchema = z.object({
  idempotencyKey: z.string(),
  runId: z.string(),
  orderId: z.string(),
  amount: z.number(),
  reason: z.string(),
  refundId: z.string(),
  createdAt: z.string(),
});
export type RefundRow = z.infer<typeof RefundRowSchema>;

/** `POST /refunds`: 201 with `replayed: false` the first time a key is seen, 200 and `true` after. */
export const RefundAppliedSchema = z.object({ refund: RefundRowSchema, replayed: z.boolean() });

/** `GET /refunds?runId=&orderId=` */
export const RefundListSchema = z.object({ refunds: z.array(RefundRowSchema) });

/** The service's errors: `{error: {code, message, field?}}`. */
export const RefundsErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
