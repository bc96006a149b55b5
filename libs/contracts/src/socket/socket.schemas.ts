import { z } from 'zod';
import { EventEnvelopeSchema } from '../envelope';
import { HumanRequestKind } from '../events/human.events';
import { COMMANDS, RunId } from '../commands/command-catalog';
import { RunSummarySchema } from '../http/responses';
import { RequestsQueryFields } from '../http/api.schemas';

/**
 * The WebSocket (socket.io) protocol: every client → server message, its acknowledgement, and
 * every server → client event. One definition, used by the gateway, the console and the tests.
 * docs/WEBSOCKET.md describes it for people.
 */

// The messages that issue a command are that command's catalogued input (commands/command-catalog.ts),
// plus the optional W3C trace context of the caller (TraceContextFields).

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) a command message may carry, as an HTTP
 * request carries it in headers: with tracing on, the server's span of the message is a child of
 * `traceparent`, and the ack's `traceparent` names that span. Ignored with tracing off; a value
 * that is not a valid traceparent is ignored too (a new trace starts), as over HTTP.
 */
export const TraceContextFields = {
  traceparent: z.string().max(256).optional(),
  tracestate: z.string().max(512).optional(),
};
/** The trace context an ack carries back: the `traceparent` of the server's span of the message. */
export const AckTraceContext = z.object({ traceparent: z.string().optional() });

// ---------------------------------------------------------------------------------------------
// Client → server messages (each one is acknowledged: see SocketAck)
// ---------------------------------------------------------------------------------------------

/** Follow a run. With `afterSeq`, its stored events after that seq come first (reconnect). */
export const RunWatchMessage = z.strictObject({
  runId: RunId,
  afterSeq: z.number().int().min(0).optional(),
});
export type RunWatchMessage = z.infer<typeof RunWatchMessage>;

export const RunUnwatchMessage = z.strictObject({ runId: RunId });
export type RunUnwatchMessage = z.infer<typeof RunUnwatchMessage>;

/** A human speaks in a run; with the floor open to them (an `input` request) it answers it. */
export const RunMessageMessage = COMMANDS['run.message'].input.extend(TraceContextFields);
export type RunMessageMessage = z.infer<typeof RunMessageMessage>;

export const RequestDecideMessage = COMMANDS['request.decide'].input.extend(TraceContextFields);
export type RequestDecideMessage = z.infer<typeof RequestDecideMessage>;

export const RequestClaimMessage = COMMANDS['request.claim'].input.extend(TraceContextFields);
export type RequestClaimMessage = z.infer<typeof RequestClaimMessage>;

/** Re-route a handoff run to another agent. */
export const RunHandoffMessage = COMMANDS['run.handoff'].input.extend(TraceContextFields);
export type RunHandoffMessage = z.infer<typeof RunHandoffMessage>;

/**
 * Follow the inbox: the open requests the user may act on (optionally only those open to `roles`),
 * filtered, searched, ordered and paged as `GET /api/requests` does (one query: RequestsQueryFields).
 * The ack is the first page with the total and the counts; then `inbox:changed` tells of what that
 * page shows and of the counts. A new query is a new `inbox:watch`; the same query with `cursor` (the
 * ack's `nextCursor`) answers the next page, and the watch then covers it too.
 */
export const InboxWatchMessage = z.strictObject({
  roles: z.array(z.string().min(1)).min(1).max(50).optional(),
  ...RequestsQueryFields,
});
export type InboxWatchMessage = z.infer<typeof InboxWatchMessage>;

export const InboxUnwatchMessage = z.strictObject({});
export type InboxUnwatchMessage = z.infer<typeof InboxUnwatchMessage>;

/** Follow the runs list: `runs:changed` with the runs that started or changed, batched. */
export const RunsWatchMessage = z.strictObject({});
export type RunsWatchMessage = z.infer<typeof RunsWatchMessage>;
export const RunsUnwatchMessage = z.strictObject({});
export type RunsUnwatchMessage = z.infer<typeof RunsUnwatchMessage>;

/** Every message a client may send, by event name, with its payload schema. */
export const SOCKET_CLIENT_MESSAGES = {
  'run:watch': RunWatchMessage,
  'run:unwatch': RunUnwatchMessage,
  'run:message': RunMessageMessage,
  'run:handoff': RunHandoffMessage,
  'request:decide': RequestDecideMessage,
  'request:claim': RequestClaimMessage,
  'inbox:watch': InboxWatchMessage,
  'inbox:unwatch': InboxUnwatchMessage,
  'runs:watch': RunsWatchMessage,
  'runs:unwatch': RunsUnwatchMessage,
} as const;
export type SocketClientMessageName = keyof typeof SOCKET_CLIENT_MESSAGES;

/** The messages that issue a command: they take a trace context and their acks carry one back. */
export const SOCKET_COMMAND_MESSAGES = [
  'run:message',
  'run:handoff',
  'request:decide',
  'request:claim',
] as const;
export type SocketCommandMessageName = (typeof SOCKET_COMMAND_MESSAGES)[number];
export type SocketClientMessages = {
  [K in SocketClientMessageName]: z.infer<(typeof SOCKET_CLIENT_MESSAGES)[K]>;
};

/** The least role each message needs (built-in roles rank viewer < participant < approver < admin). */
export const SOCKET_MESSAGE_ROLES: Record<SocketClientMessageName, 'viewer' | 'participant'> = {
  'run:watch': 'viewer',
  'run:unwatch': 'viewer',
  'run:message': 'participant',
  'run:handoff': 'participant',
  // who may decide or claim depends on the request (its roles, four-eyes): the command checks it
  'request:decide': 'viewer',
  'request:claim': 'viewer',
  'inbox:watch': 'viewer',
  'inbox:unwatch': 'viewer',
  'runs:watch': 'viewer',
  'runs:unwatch': 'viewer',
};

// ---------------------------------------------------------------------------------------------
// Acknowledgements
// ---------------------------------------------------------------------------------------------

/** Error codes the socket layer adds to the domain's (RUN.NOT_FOUND, REQUEST.CLOSED, AUTH.*, ...). */
export const SOCKET_ERROR_CODES = {
  /** The payload does not match the message's schema; `field` names the bad field. */
  invalidPayload: 'SOCKET.INVALID_PAYLOAD',
  /** No such client message. */
  unknownEvent: 'SOCKET.UNKNOWN_EVENT',
  /** `run:watch` with an `afterSeq` beyond the run's head. */
  afterSeqAhead: 'SOCKET.AFTER_SEQ_AHEAD',
  /** Too many messages on this connection: slow down (token bucket). */
  rateLimited: 'RATE_LIMITED',
  /** An unexpected server error (logged on the server). */
  internal: 'INTERNAL',
} as const;

/** Codes a refused handshake carries in `connect_error`'s `err.data.code`. */
export const SOCKET_HANDSHAKE_ERROR_CODES = ['AUTH.MISSING_TOKEN', 'AUTH.INVALID_TOKEN'] as const;

export const SocketError = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type SocketError = z.infer<typeof SocketError>;

/** A failed ack; with tracing on, a command message's carries its span's `traceparent` too. */
export const SocketAckError = z.object({
  ok: z.literal(false),
  error: SocketError,
  traceparent: z.string().optional(),
});
export type SocketAckError = z.infer<typeof SocketAckError>;

export const RequestSummarySchema = z.object({
  id: z.string(),
  runId: z.string(),
  /** The workflow of the request's run (the inbox filters and groups by it). */
  workflow: z.string(),
  kind: HumanRequestKind,
  status: z.enum(['open', 'resolved', 'expired', 'closed']),
  title: z.string(),
  ask: z.string(),
  roles: z.array(z.string()),
  createdAt: z.string(),
  deadline: z.string().nullable(),
  claimedBy: z.string().optional(),
  closedAt: z.string().optional(),
  outcome: z.string().optional(),
});
export type RequestSummaryPayload = z.infer<typeof RequestSummarySchema>;

/**
 * What the inbox's filters show beside their choices: among the requests of the query's status the
 * caller may act on (or those open to its `role`), before the other filters, how many there are, by
 * kind, by workflow and by role, and how many the caller has claimed.
 */
export const InboxCountsSchema = z.object({
  all: z.number().int(),
  kinds: z.record(z.string(), z.number().int()),
  workflows: z.record(z.string(), z.number().int()),
  roles: z.record(z.string(), z.number().int()),
  mine: z.number().int(),
});
export type InboxCounts = z.infer<typeof InboxCountsSchema>;

/**
 * One page of the inbox: its requests in order (a run's requests together, the runs ordered by their
 * first request: `inboxGroups`), how many match the query (`total`), the counts, and the cursor of
 * the next page (absent on the last).
 */
export const RequestsPageSchema = z.object({
  requests: z.array(RequestSummarySchema),
  total: z.number().int(),
  counts: InboxCountsSchema,
  nextCursor: z.string().optional(),
});
export type RequestsPage = z.infer<typeof RequestsPageSchema>;

/** The successful ack of each message. */
export const SOCKET_ACKS = {
  /** Sent after the catch-up: every event up to `headSeq` has been emitted before this ack. */
  'run:watch': z.object({
    ok: z.literal(true),
    runId: z.string(),
    headSeq: z.number().int().min(0),
    replayed: z.number().int().min(0),
  }),
  'run:unwatch': z.object({ ok: z.literal(true), runId: z.string(), watching: z.boolean() }),
  // the acks of the messages that issue a command: the command's catalogued result, and whom it was about
  // and, tracing on, the `traceparent` of the server's span of the message (AckTraceContext)
  'run:message': COMMANDS['run.message'].result
    .extend({ ok: z.literal(true), runId: z.string() })
    .extend(AckTraceContext.shape),
  'run:handoff': COMMANDS['run.handoff'].result
    .extend({ ok: z.literal(true), runId: z.string() })
    .extend(AckTraceContext.shape),
  // unchanged: the same human repeated the same decision (idempotent)
  'request:decide': z.intersection(
    z.object({ ok: z.literal(true), requestId: z.string() }).extend(AckTraceContext.shape),
    COMMANDS['request.decide'].result,
  ),
  'request:claim': COMMANDS['request.claim'].result
    .extend({ ok: z.literal(true), requestId: z.string() })
    .extend(AckTraceContext.shape),
  // `asOf`: the seq of the last `inbox:changed` sent before this page was read (see InboxChangedPayload)
  'inbox:watch': RequestsPageSchema.extend({ ok: z.literal(true), asOf: z.number().int().min(0) }),
  'inbox:unwatch': z.object({ ok: z.literal(true) }),
  'runs:watch': z.object({ ok: z.literal(true) }),
  'runs:unwatch': z.object({ ok: z.literal(true) }),
} as const satisfies Record<SocketClientMessageName, z.ZodType>;
export type SocketAckOk<K extends SocketClientMessageName> = z.infer<(typeof SOCKET_ACKS)[K]>;
export type SocketAck<K extends SocketClientMessageName> = SocketAckOk<K> | SocketAckError;

// ---------------------------------------------------------------------------------------------
// Server → client events
// ---------------------------------------------------------------------------------------------

export const RunTokenPayload = z.object({ runId: z.string(), agent: z.string(), delta: z.string() });
export type RunTokenPayload = z.infer<typeof RunTokenPayload>;

/**
 * A change of the watched inbox: `request` changed (opened, claimed, released, resolved, expired) and
 * is now `listed` on the watcher's pages (add or update it) or not (drop it: decided, or no longer
 * matching the filters); or, without `request`, only the total or the counts changed. `total` and
 * `counts` are always as they are now. `seq` counts the changes on this connection: those up to an
 * ack's `asOf` are already in its page, the later ones come after it.
 */
export const InboxChangedPayload = z.object({
  seq: z.number().int().min(1),
  request: RequestSummarySchema.optional(),
  listed: z.boolean().optional(),
  total: z.number().int(),
  counts: InboxCountsSchema,
});

/** How long the server gathers run changes before one `runs:changed` (milliseconds). */
export const RUNS_CHANGED_BATCH_MS = 200;
/** The runs that started or changed in the last batch, each once, in its state at the batch's end. */
export const RunsChangedPayload = z.object({ runs: z.array(RunSummarySchema) });
export type RunsChangedPayload = z.infer<typeof RunsChangedPayload>;
export type InboxChangedPayload = z.infer<typeof InboxChangedPayload>;

/** A message sent without an ack callback that failed: the error comes back as this event. */
export const SocketErrorPayload = z.object({ event: z.string(), error: SocketError });
export type SocketErrorPayload = z.infer<typeof SocketErrorPayload>;

export const SOCKET_SERVER_EVENTS = {
  /** Every event of a watched run, in seq order, exactly once per watch: the stored envelope. */
  'run:event': EventEnvelopeSchema,
  /** Tokens while an agent of a watched run speaks (never stored; the final message is a run:event). */
  'run:token': RunTokenPayload,
  /** A request the user may act on was opened, claimed, resolved or expired (inbox watchers). */
  'inbox:changed': InboxChangedPayload,
  /** Runs that started or changed, batched every 200 ms (runs watchers). */
  'runs:changed': RunsChangedPayload,
  /** The failure of a message that came without an ack callback. */
  'socket:error': SocketErrorPayload,
} as const;
export type SocketServerEventName = keyof typeof SOCKET_SERVER_EVENTS;

/** Socket.io settings the server applies (documented for clients). */
export const SOCKET_LIMITS = {
  path: '/socket.io',
  /** Larger frames close the connection (socket.io `maxHttpBufferSize`). */
  maxMessageBytes: 64 * 1024,
  /** Token bucket per connection: sustained messages per second, and burst. */
  ratePerSecond: 20,
  burst: 40,
} as const;
