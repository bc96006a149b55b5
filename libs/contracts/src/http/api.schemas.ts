import { z } from 'zod';
import { Decision, HumanRequestKind } from '../events/human.events';
import { JsonPayload } from '../json-value';

/** REST request bodies: one definition, used by the server, the console, the CLI and the tests. */
export const StartRunBody = z.strictObject({
  workflow: z.string().min(1, 'name a workflow'),
  input: z.string().min(1, 'say what the run is about').max(20_000),
  idempotencyKey: z.string().min(1).max(200).optional(),
});
export type StartRunBody = z.infer<typeof StartRunBody>;

export const DecisionBody = z.strictObject({
  decision: Decision,
  comment: z.string().max(4000).optional(),
  payload: JsonPayload.optional(),
  payloadHash: z.string().optional(),
});
export type DecisionBody = z.infer<typeof DecisionBody>;

/** `POST /api/requests/:id/claim` takes no fields: an empty body or `{}`. */
export const ClaimBody = z.strictObject({});
export const MessageBody = z.strictObject({ text: z.string().min(1, 'the message is empty').max(8000) });
export const HandoffBody = z.strictObject({
  to: z.string().min(1),
  reason: z.string().min(1, 'say why you re-route').max(2000),
});
export const CancelBody = z.strictObject({ reason: z.string().max(2000).optional() });
/** `POST /api/runs/:runId/retry`: a failed run continues from its failed step. */
export const RetryBody = z.strictObject({ reason: z.string().max(2000).optional() });

export const RunStatusQuery = z.enum(['running', 'waiting', 'completed', 'failed', 'cancelled']);
/** The most runs one page of `GET /api/runs` answers. */
export const RUNS_PAGE_MAX = 500;
/**
 * `GET /api/runs?status=&workflow=&q=&limit=&cursor=`: newest first (by start time, then run id);
 * `cursor` is the `nextCursor` of the page before, opaque and stable when runs start meanwhile.
 */
export const ListRunsQuery = z.strictObject({
  status: RunStatusQuery.optional(),
  workflow: z.string().optional(),
  q: z.string().max(200, 'search for at most 200 characters').optional(),
  limit: z.coerce
    .number()
    .int('limit is a whole number')
    .min(1, 'limit is at least 1')
    .max(RUNS_PAGE_MAX, `limit is at most ${RUNS_PAGE_MAX}`)
    .optional(),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'cursor is the nextCursor of a page before')
    .optional(),
});
/** The most requests one page of the inbox (`GET /api/requests`, `inbox:watch`) answers. */
export const REQUESTS_PAGE_MAX = 500;
/** A page of the inbox when `limit` is not given. */
export const REQUESTS_PAGE_DEFAULT = 50;
/** The inbox's orders: the nearest deadline first (none last), or the oldest first. */
export const INBOX_SORTS = ['deadline', 'age'] as const;
export type InboxSort = (typeof INBOX_SORTS)[number];

/** `true`/`false` as JSON (socket.io) or as a query string (`?mine=true`). */
const Flag = (name: string) =>
  z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], {
    error: `${name} is true or false`,
  });

/**
 * The inbox's query, the same over REST (`GET /api/requests?…`) and socket.io (`inbox:watch`): the
 * filters the console offers, a search, an order, and a page. A page holds whole runs (a run's
 * requests are never split across pages, so `limit` may be passed by one run's requests on a page
 * of its own) and `cursor` is the `nextCursor` of the page before, with the same filters and order.
 */
export const RequestsQueryFields = {
  kind: HumanRequestKind.optional(),
  /** Only requests open to this role. */
  role: z.string().min(1).max(100).optional(),
  workflow: z.string().min(1).max(200).optional(),
  runId: z.string().min(1).max(200).optional(),
  /** Only the requests the caller has claimed. */
  mine: Flag('mine').optional(),
  /** Only the requests whose deadline is before this instant ("expiring soon": now + 15 minutes). */
  expiringBefore: z.iso.datetime({ error: 'expiringBefore is an ISO date-time (UTC, with Z)' }).optional(),
  /** Search: in the title, the ask, the kind, the run id, the request id, the workflow and the claimer. */
  q: z.string().max(200, 'search for at most 200 characters').optional(),
  sort: z.enum(INBOX_SORTS, { error: 'sort is deadline or age' }).optional(),
  limit: z.coerce
    .number({ error: 'limit is a number' })
    .int('limit is a whole number')
    .min(1, 'limit is at least 1')
    .max(REQUESTS_PAGE_MAX, `limit is at most ${REQUESTS_PAGE_MAX}`)
    .optional(),
  cursor: z
    .string()
    .max(2000)
    .regex(/^[A-Za-z0-9_-]+$/, 'cursor is the nextCursor of a page before')
    .optional(),
};

/**
 * `GET /api/requests?status=&kind=&role=&workflow=&runId=&mine=&expiringBefore=&q=&sort=&limit=&cursor=`:
 * one page of the requests (status=open by default) the caller may act on, or those open to `role`.
 */
export const ListRequestsQuery = z.strictObject({
  status: z.enum(['open', 'resolved', 'expired', 'closed']).optional(),
  ...RequestsQueryFields,
});
export type ListRequestsQuery = z.infer<typeof ListRequestsQuery>;

/** `POST /api/import?note=…`: why the runs are brought here (recorded in each as `run.imported`). */
export const ImportQuery = z.strictObject({ note: z.string().min(1).max(2000).optional() });

export const ForkBody = z.strictObject({
  atSeq: z.number().int().min(1),
  note: z.string().min(1, 'say why you fork').max(2000),
  message: z.string().min(1).max(8000).optional(),
});
/** `GET /api/runs/:runId/state?at=` */
export const StateQuery = z.strictObject({ at: z.coerce.number().int().min(1).optional() });
/** `GET /api/export?from=&to=` */
export const ExportRangeQuery = z.strictObject({
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
});

/** Every error answer: `{error: {code, message, field?}}`. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
