import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import { z } from 'zod';
import { COMMANDS, REST_BODIES, RequestId, RunId } from '../commands/command-catalog';
import { EventEnvelopeSchema } from '../envelope';
import { SignedHeadSchema } from '../export/signature.schema';
import { RequestsPageSchema } from '../socket/socket.schemas';
import { ExportRangeQuery, ImportQuery, ListRequestsQuery, ListRunsQuery, StateQuery } from './api.schemas';
import { AuditResponseSchema, RequestViewSchema, RunSummarySchema, RunViewSchema } from './responses';

/**
 * Every REST route, once: its method, path, least role, parameters, body and answers. The server's
 * OpenAPI document (`/docs-json`, `docs/openapi.json`) is generated from this table, and a test checks
 * that every route a controller serves is in it.
 */
export interface RouteSpec {
  method: 'get' | 'post';
  /** OpenAPI style: `/api/runs/{runId}`. */
  path: string;
  summary: string;
  tag: string;
  /** The least role the bearer token must hold; `public` needs no token. */
  role: 'public' | 'viewer' | 'participant' | 'approver' | 'admin' | 'metrics';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A body that is not JSON (e.g. NDJSON). */
  bodyContentType?: string;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** The error statuses this route may answer besides 400/401/403/429 (every error body is `ErrorBody`). */
  errors?: number[];
}

const RunParams = z.object({ runId: RunId });
const RequestParams = z.object({ id: RequestId });
const ok = <S extends z.ZodType | undefined = undefined>(
  description: string,
  schema?: S,
  contentType?: string,
) => ({ description, schema: schema as S, contentType });

/** `created` is false when an idempotency key returned a run started before (HTTP 200, not 201). */
export const RunStartedResponse = z.object({ runId: z.string(), created: z.boolean() });
/** One page of runs, the number matching the filter, and the cursor of the next page (absent on the last). */
export const RunsListResponse = z.object({
  runs: z.array(RunSummarySchema),
  total: z.number().int(),
  nextCursor: z.string().optional(),
});
/** One page of the inbox, the number matching, the counts, and the cursor of the next page. */
export const RequestsListResponse = RequestsPageSchema;
export const RunEventsResponse = z.object({ events: z.array(EventEnvelopeSchema) });
export const DecisionResponse = z.intersection(
  COMMANDS['request.decide'].result,
  z.object({ requestId: z.string() }),
);
export const ClaimResponse = COMMANDS['request.claim'].result.extend({ requestId: z.string() });
export const ReleaseResponse = COMMANDS['request.release'].result.extend({ requestId: z.string() });
export const SeqResponse = COMMANDS['run.message'].result;
export const ForkResponse = COMMANDS['run.fork'].result;
/** `verify`: the whole chain checked; on a break, the first seq that fails and why. */
export const VerifyResponse = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), events: z.number().int(), head: z.string() }),
  z.object({
    ok: z.literal(false),
    events: z.number().int(),
    seq: z.number().int(),
    reason: z.enum(['edited', 'missing', 'reordered', 'unlinked', 'wrong-run']),
    message: z.string(),
  }),
]);
/** The run's state at a seq, as canonical JSON. */
export const RunStateResponse = z.object({ at: z.number().int(), state: RunViewSchema });
export const WorkflowsResponse = z.object({
  workflows: z.array(
    z.object({
      name: z.string(),
      pattern: z.string(),
      description: z.string().optional(),
      agents: z.array(z.string()),
      definition: z.unknown(),
    }),
  ),
});
export const MeResponse = z.object({ id: z.string(), roles: z.array(z.string()) });
export const HealthResponse = z.looseObject({
  status: z.enum(['ok', 'degraded']),
  eventLog: z.enum(['sqlite', 'kafka']),
  checks: z.looseObject({ eventLog: z.looseObject({ reachable: z.boolean() }) }),
  instance: z.string(),
  model: z.enum(['offline', 'provider']),
  workflows: z.number().int(),
  uptimeSeconds: z.number(),
});
export const SigningKeyResponse = z.object({
  algorithm: z.literal('Ed25519'),
  keyId: z.string(),
  publicKey: z.string(),
  trustedKeys: z.array(z.unknown()),
});
/** One run against its anchors: ok, or the problem with the anchored and the stored head. */
export const AnchoredRunCheckSchema = z.object({
  runId: z.string(),
  ok: z.boolean(),
  /** The last head anchored for the run (absent: never anchored). */
  anchored: SignedHeadSchema.optional(),
  /** The run's head in the log now (absent: the run is not in the log). */
  stored: z.object({ seq: z.number().int(), hash: z.string() }).optional(),
  problem: z.enum(['deleted', 'truncated', 'rewritten', 'broken', 'unanchored', 'forged']).optional(),
  message: z.string(),
});
export const AnchorsCheckResponse = z.looseObject({
  ok: z.boolean(),
  checked: z.number().int(),
  problems: z.number().int(),
  runs: z.array(AnchoredRunCheckSchema),
  /** The keys that signed the anchors: verified here (this server's, trusted), or unknown to it. */
  keys: z.array(
    z.object({ keyId: z.string(), anchors: z.number().int(), status: z.enum(['verified', 'unknown']) }),
  ),
  keyId: z.string(),
  publicKey: z.string(),
  anchors: z.looseObject({ kind: z.string() }),
});
/** The runs an import brought in, each verified (the original signature is kept in its log). */
export const ImportResponse = z.looseObject({
  imported: z.array(z.looseObject({ runId: z.string(), ok: z.boolean(), events: z.number().int() })),
});
export const ClusterResponse = z.looseObject({ mode: z.enum(['local', 'kafka']), instanceId: z.string() });
export const NotificationsResponse = z.object({ deliveries: z.array(z.looseObject({})) });
export const RefundsResponse = z.object({ refunds: z.array(z.looseObject({})) });

export const ROUTES = {
  health: {
    method: 'get',
    path: '/health',
    tag: 'health',
    role: 'public',
    summary:
      'Liveness and readiness: 200 ok, 503 degraded while the event log is unreachable; memory figures with a valid token',
    responses: { 200: ok('ok', HealthResponse), 503: ok('degraded', HealthResponse) },
  },
  metrics: {
    method: 'get',
    path: '/metrics',
    tag: 'observability',
    role: 'metrics',
    summary: 'Prometheus metrics (text exposition); a bearer token when PARLEY_METRICS_TOKEN is set',
    responses: { 200: ok('metrics', z.string(), 'text/plain') },
  },
  signingKey: {
    method: 'get',
    path: '/.well-known/parley-signing-key',
    tag: 'audit',
    role: 'public',
    summary: "The server's Ed25519 public key (heads and exports are signed with it) and the trusted keys",
    responses: { 200: ok('the key', SigningKeyResponse) },
  },
  checkAnchors: {
    method: 'get',
    path: '/api/anchors/check',
    tag: 'audit',
    role: 'viewer',
    summary:
      'Every run against the anchor stream: each one whose log does not pass through its anchored head',
    responses: { 200: ok('the check', AnchorsCheckResponse) },
  },
  me: {
    method: 'get',
    path: '/api/me',
    tag: 'console',
    role: 'viewer',
    summary: 'Who the bearer token is',
    responses: { 200: ok('the caller', MeResponse) },
  },
  listWorkflows: {
    method: 'get',
    path: '/api/workflows',
    tag: 'workflows',
    role: 'viewer',
    summary: 'The workflows this server runs',
    responses: { 200: ok('workflows', WorkflowsResponse) },
  },
  startRun: {
    method: 'post',
    path: '/api/runs',
    tag: 'runs',
    role: 'participant',
    summary: 'Start a run of a workflow (201; 200 with the same runId for a repeated idempotencyKey)',
    body: REST_BODIES['run.start'],
    responses: { 201: ok('started', RunStartedResponse), 200: ok('already started', RunStartedResponse) },
    errors: [404, 409, 503],
  },
  listRuns: {
    method: 'get',
    path: '/api/runs',
    tag: 'runs',
    role: 'viewer',
    summary:
      'List runs, newest first, a page at a time (filter by status, workflow, search q; limit, cursor)',
    query: ListRunsQuery,
    responses: { 200: ok('runs', RunsListResponse) },
  },
  getRun: {
    method: 'get',
    path: '/api/runs/{runId}',
    tag: 'runs',
    role: 'viewer',
    summary: 'A run: status, transcript, pending human requests, tool calls, output',
    params: RunParams,
    responses: { 200: ok('the run', RunViewSchema) },
    errors: [404],
  },
  runEvents: {
    method: 'get',
    path: '/api/runs/{runId}/events',
    tag: 'runs',
    role: 'viewer',
    summary: "The run's events (JSON, or NDJSON with Accept: application/x-ndjson)",
    params: RunParams,
    responses: { 200: ok('events', RunEventsResponse) },
    errors: [404],
  },
  cancelRun: {
    method: 'post',
    path: '/api/runs/{runId}/cancel',
    tag: 'runs',
    role: 'participant',
    summary: 'Cancel a run: {reason?} → the run',
    params: RunParams,
    body: REST_BODIES['run.cancel'],
    responses: { 200: ok('the run', RunViewSchema) },
    errors: [404, 409],
  },
  retryRun: {
    method: 'post',
    path: '/api/runs/{runId}/retry',
    tag: 'runs',
    role: 'participant',
    summary: 'Continue a failed run from its failed step: {reason?} → the run; 409 RUN.NOT_FAILED',
    params: RunParams,
    body: REST_BODIES['run.retry'],
    responses: { 200: ok('the run', RunViewSchema) },
    errors: [404, 409],
  },
  postMessage: {
    method: 'post',
    path: '/api/runs/{runId}/messages',
    tag: 'runs',
    role: 'participant',
    summary: 'A human speaks in a run (group chat): the next speaker sees it',
    params: RunParams,
    body: REST_BODIES['run.message'],
    responses: { 201: ok('recorded at seq', SeqResponse) },
    errors: [404, 409],
  },
  rerouteHandoff: {
    method: 'post',
    path: '/api/runs/{runId}/handoff',
    tag: 'runs',
    role: 'participant',
    summary: 'Re-route a handoff run to another agent: {to, reason}',
    params: RunParams,
    body: REST_BODIES['run.handoff'],
    responses: { 201: ok('recorded at seq', SeqResponse) },
    errors: [404, 409],
  },
  verifyRun: {
    method: 'get',
    path: '/api/runs/{runId}/verify',
    tag: 'audit',
    role: 'viewer',
    summary: "Check the run's hash chain and seq continuity",
    params: RunParams,
    responses: { 200: ok('the verdict', VerifyResponse) },
    errors: [404],
  },
  runState: {
    method: 'get',
    path: '/api/runs/{runId}/state',
    tag: 'audit',
    role: 'viewer',
    summary: 'The run as it was at a seq, rebuilt from its events alone (no model or tool call)',
    params: RunParams,
    query: StateQuery,
    responses: { 200: ok('the state', RunStateResponse) },
    errors: [404],
  },
  runAudit: {
    method: 'get',
    path: '/api/runs/{runId}/audit',
    tag: 'audit',
    role: 'viewer',
    summary: 'Every decision on every request of the run, and every action on it',
    params: RunParams,
    responses: { 200: ok('the audit trail', AuditResponseSchema) },
    errors: [404],
  },
  exportRun: {
    method: 'get',
    path: '/api/runs/{runId}/export',
    tag: 'audit',
    role: 'viewer',
    summary: 'The run as NDJSON: a signed manifest line, then every event as stored',
    params: RunParams,
    responses: { 200: ok('NDJSON', z.string(), 'application/x-ndjson') },
    errors: [404],
  },
  exportRange: {
    method: 'get',
    path: '/api/export',
    tag: 'audit',
    role: 'viewer',
    summary: 'All runs started in a time range, as NDJSON with a signed manifest',
    query: ExportRangeQuery,
    responses: { 200: ok('NDJSON', z.string(), 'application/x-ndjson') },
  },
  importRuns: {
    method: 'post',
    path: '/api/import',
    tag: 'audit',
    role: 'admin',
    summary: 'Import an export signed by a trusted key; every event is checked as an append',
    query: ImportQuery,
    body: z.string(),
    bodyContentType: 'application/x-ndjson',
    responses: { 201: ok('imported', ImportResponse) },
    errors: [409, 413],
  },
  forkRun: {
    method: 'post',
    path: '/api/runs/{runId}/fork',
    tag: 'audit',
    role: 'participant',
    summary: 'Start a new run from the first atSeq events of this one, and continue it live',
    params: RunParams,
    body: REST_BODIES['run.fork'],
    responses: { 201: ok('the fork', ForkResponse) },
    errors: [404],
  },
  listRequests: {
    method: 'get',
    path: '/api/requests',
    tag: 'requests',
    role: 'viewer',
    summary:
      'The inbox: one page of human requests (status=open by default), filtered, searched and ordered, with the total and the counts',
    query: ListRequestsQuery,
    responses: { 200: ok('requests', RequestsListResponse) },
  },
  getRequest: {
    method: 'get',
    path: '/api/requests/{id}',
    tag: 'requests',
    role: 'viewer',
    summary: 'A human request with what a decider is shown now and the payload hash to decide with',
    params: RequestParams,
    responses: { 200: ok('the request', RequestViewSchema) },
    errors: [404],
  },
  decideRequest: {
    method: 'post',
    path: '/api/requests/{id}/decision',
    tag: 'requests',
    role: 'viewer',
    summary: 'Decide a request: {decision, comment?, payload?, payloadHash?}',
    params: RequestParams,
    body: REST_BODIES['request.decide'],
    responses: { 200: ok('the outcome', DecisionResponse) },
    errors: [404, 409],
  },
  claimRequest: {
    method: 'post',
    path: '/api/requests/{id}/claim',
    tag: 'requests',
    role: 'viewer',
    summary: 'Claim a request (others see who is on it)',
    params: RequestParams,
    body: REST_BODIES['request.claim'],
    responses: { 200: ok('claimed', ClaimResponse) },
    errors: [404, 409],
  },
  releaseRequest: {
    method: 'post',
    path: '/api/requests/{id}/release',
    tag: 'requests',
    role: 'viewer',
    summary: 'Hand a claimed request back (its claimer or an admin): anyone entitled may claim it again',
    params: RequestParams,
    body: REST_BODIES['request.release'],
    responses: { 200: ok('released', ReleaseResponse) },
    errors: [404, 409],
  },
  listNotifications: {
    method: 'get',
    path: '/api/notifications',
    tag: 'notifications',
    role: 'admin',
    summary: 'Webhook deliveries (the outbox), by status',
    query: z.object({ status: z.string().optional() }),
    responses: { 200: ok('deliveries', NotificationsResponse) },
  },
  listRefunds: {
    method: 'get',
    path: '/api/refunds',
    tag: 'tools',
    role: 'viewer',
    summary: 'Refunds made by the process_refund tool (filter by runId)',
    query: z.object({ runId: z.string().optional() }),
    responses: { 200: ok('refunds', RefundsResponse) },
  },
  cluster: {
    method: 'get',
    path: '/api/cluster',
    tag: 'cluster',
    role: 'viewer',
    summary: "The cluster's members and partition owners (Kafka mode), and a run's owner with ?runId",
    query: z.strictObject({ runId: RunId.optional() }),
    responses: { 200: ok('the cluster', ClusterResponse) },
  },
  agUi: {
    method: 'post',
    path: '/api/ag-ui/{workflow}',
    tag: 'ag-ui',
    role: 'viewer',
    summary:
      'AG-UI over SSE (docs/AG-UI.md): a RunAgentInput; a thread is a run of the workflow; resume[] decides its interrupts',
    params: z.object({ workflow: z.string() }),
    // @ag-ui/core's own schema of a RunAgentInput
    body: RunAgentInputSchema,
    responses: { 200: ok('AG-UI events', z.string(), 'text/event-stream') },
    errors: [404],
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;

/** The REST API's version (semver; the OpenAPI document's info.version). */
export const API_VERSION = '0.1.0';
