/**
 * Every error code Parley answers with, once, and what it means (the HTTP status follows from the
 * error's kind: validation 400, unauthorized 401, forbidden 403, not found 404, conflict 409,
 * unavailable 503; a socket ack carries the same code). A code is stable and machine-readable; the message beside it is a sentence for a
 * person. `ParleyError` takes an `ErrorCode`, so a typo in a code does not compile; docs/ERRORS.md
 * lists this catalogue and a test keeps the two (and README's error list) in step.
 */
export const ERROR_CODES = {
  'AUTH.MISSING_TOKEN': 'no bearer token was sent',
  'AUTH.INVALID_TOKEN': 'the token is not one the server knows',
  'AUTH.ROLE_REQUIRED': "the route needs a role the token's identity does not hold",
  'AUTH.NOT_A_HUMAN': "an agent's or a service's token on a human path (decide, claim, speak, re-route)",

  'REQUEST.INVALID_BODY': 'the body does not match the schema; `field` names the bad field',
  'REQUEST.INVALID_JSON': 'the body is not valid JSON',
  'REQUEST.INVALID_QUERY': 'a query parameter does not match the schema; `field` names it',
  'REQUEST.INVALID_PAYLOAD':
    'an edited payload does not match what the run can use (a plan, a route, a draft)',
  'REQUEST.PAYLOAD_REQUIRED': 'an `edit` without the edited payload',
  'REQUEST.COMMENT_REQUIRED': '`feedback`, `answer` or `handback` without a comment',
  'REQUEST.DECISION_NOT_ALLOWED': 'a decision this kind of request does not accept',
  'REQUEST.EDIT_NOT_SUPPORTED': 'an edit of a request that has nothing to edit',
  'REQUEST.TOO_LARGE': 'the body is larger than the limit',
  'REQUEST.UNSUPPORTED_MEDIA_TYPE': 'a body that is not JSON (NDJSON on /api/import)',
  'REQUEST.UNSUPPORTED_ENCODING': 'a compressed or otherwise encoded body',
  'REQUEST.UNSUPPORTED_CHARSET': 'a body in a charset other than UTF-8',
  'REQUEST.RATE_LIMITED': 'too many requests from this client (PARLEY_HTTP_RATE_LIMIT)',
  'REQUEST.NOT_FOUND': 'no human request with that id',
  'REQUEST.FORBIDDEN': 'the request is for roles the identity does not hold',
  'REQUEST.FOUR_EYES': "four-eyes: whoever asked for it (along the run's lineage) may not approve it",
  'REQUEST.CLOSED': 'the request is already resolved, or was closed when its run ended',
  'REQUEST.EXPIRED': "the request's deadline has passed",
  'REQUEST.ALREADY_DECIDED': 'this human already decided on this version of the request',
  'REQUEST.CLAIMED_BY_OTHER': 'the escalation is claimed by someone else',
  'REQUEST.STALE_PAYLOAD': 'the payloadHash sent is not the hash of what the request shows now',
  'REQUEST.PAYLOAD_HASH_REQUIRED': 'the payload was edited since it opened: send the new payloadHash',

  'RUN.NOT_FOUND': 'no run with that id',
  'RUN.ENDED': 'the run has completed, failed or been cancelled',
  'RUN.FORBIDDEN':
    "the workflow's permissions do not let this identity cancel, fork, re-route or retry the run",
  'RUN.NOT_FAILED': 'a retry of a run that has not failed',
  'RUN.NOT_RETRIABLE': 'a retry of a run that failed for a reason other than a model call',
  'RUN.CHAIN_BROKEN': "the run's hash chain does not verify: it is not driven and takes no command",
  'MESSAGE.EMPTY': 'an empty message',
  'HANDOFF.NOT_A_HANDOFF_RUN': 'a re-route of a run of another pattern',
  'HANDOFF.UNKNOWN_AGENT': 'a re-route to an agent the workflow does not have',
  'HANDOFF.REASON_REQUIRED': 'a re-route without a reason',
  'HANDOFF.ALREADY_THERE': 'a re-route to the agent that holds the conversation',
  'WORKFLOW.NOT_FOUND': 'no workflow with that name',
  'WORKFLOW.INVALID': 'a workflow file that does not validate (start-up: the file and the field)',
  'TOOL.UNKNOWN': 'a tool no registry knows',
  'TOOL.INVALID_ARGS': "arguments the tool's schema refuses; `field` names the argument",
  'TOOL.FAILED': "a tool failed (recorded as the call's failure, not answered to a client)",
  'TOOL.MCP_ERROR':
    "an MCP tool answered with `isError` (recorded as the call's failure, the server's text as its message)",
  'TOOL.MCP_FAILED':
    'an MCP call that failed on the way (the connection, a timeout): recorded, never retried',
  'TOOL.MCP_UNAVAILABLE':
    "a call to an MCP server that stopped answering while it is being reconnected (recorded as the call's failure)",
  'TOOL.TIMEOUT': "an HTTP tool's call that took longer than its `timeout` (recorded)",
  'TOOL.UNREACHABLE': "an HTTP tool's service that could not be reached (recorded; retried: it never acted)",
  'TOOL.RESPONSE_TOO_LARGE':
    "a tool's answer over its size cap (recorded); an HTTP tool's non-2xx is `TOOL.HTTP_<status>`",
  'TOOL.OUTCOME_UNKNOWN': 'an interrupted call a human failed through its `reconcile` request (recorded)',
  'TOOLS.INVALID': 'a tools file that does not validate (start-up: the file and the field)',
  'TOOLS.SERVER_UNAVAILABLE': 'a run of a workflow that needs an MCP server that did not start',
  'TOOLS.TOOL_UNAVAILABLE': 'a run of a workflow that needs a tool its server no longer lists',

  'FORK.BEYOND_HEAD': 'a fork at a seq the run has not reached',
  'FORK.SOURCE_TAMPERED': 'the run to fork does not verify',
  'REPLAY.BEYOND_HEAD': "`state?at=` beyond the run's last event",
  'IMPORT.NOT_VERIFIED': 'the file does not verify; nothing was imported',
  'IMPORT.EMPTY': 'a stream to import with no events',
  'IMPORT.INVALID_EVENT':
    'an imported event an append here would refuse (unknown type or version, an actor that may not produce it, bad data); the line or seq is named',
  'IMPORT.WRONG_RUN': 'an event of another run in a stream to import',
  'IMPORT.CHAIN_BROKEN': 'a stream to import whose hash chain does not verify',
  'IMPORT.RUN_EXISTS': 'a run of the file exists here already; nothing was imported',
  'IMPORT.UNSIGNED': 'an export whose manifest carries no signature: nothing says which server wrote it',
  'IMPORT.UNTRUSTED_KEY':
    "an export signed by a key that is neither this server's nor one of PARLEY_TRUSTED_KEYS",
  'IMPORT.FORGED':
    'an export whose signature does not hold, or whose chain does not reach a head its server signed; the run and seq are named',

  'EVENT.UNKNOWN_TYPE': 'an event type the registry does not know',
  'EVENT.ACTOR_NOT_ALLOWED': 'an actor of a kind that may not produce this event type',
  'EVENT.INVALID_DATA': "an event's data does not match its type's schema",
  'EVENT_STORE.CONCURRENCY': 'someone appended to the run first (a stale expected seq); nothing was written',
  'EVENT_STORE.EVENT_ID_CONFLICT': 'an event id that is already in the log with other content',
  'EVENT_STORE.UNAVAILABLE':
    'a write that failed: Kafka, its outcome is unknown (the log did not answer); SQLite, the storage refused it (disk full, I/O error, read-only: the cause is in details) and nothing was written; /health is degraded until the storage takes writes again',
  'EVENT_STORE.DAMAGED':
    'start-up: the SQLite log is damaged (write-ahead log, structure, or a chain of a recently written run); the server refuses to serve it and says how to repair it',
  'EVENT_STORE.KAFKA_UNREACHABLE': 'the Kafka brokers cannot be reached',
  'EVENT_LOG.UNAVAILABLE': 'the Kafka log is unreachable: nothing was written; try again once /health is 200',
  'STATUS.UNAVAILABLE': 'the server is not ready (or degraded) for this',
  'CLUSTER.NOT_OWNER': 'this instance does not own the run (the command is routed to its owner)',
  'CLUSTER.OWNER_UNAVAILABLE': "the run's owner did not answer in time",
  'CLUSTER.PARTITIONS_MISMATCH': "the commands topic's partitions do not match the events topic's",

  'SOCKET.INVALID_PAYLOAD': 'a socket message that does not match its schema; `field` names the bad field',
  'SOCKET.UNKNOWN_EVENT': 'a socket message type the server does not know',
  'SOCKET.AFTER_SEQ_AHEAD': "`afterSeq` beyond the run's last event",
  'AG_UI.NO_INPUT': 'a new AG-UI thread (a run to start) whose input has no user message to start it with',
  'AG_UI.WORKFLOW_MISMATCH': 'the AG-UI thread is a run of another workflow than the route names',
  'AG_UI.UNKNOWN_INTERRUPT':
    'a resume entry for an interrupt that is no request of this thread; `field` names it',
  'AG_UI.DUPLICATE_RESUME': 'two resume entries for the same interrupt; `field` names the second',
  'AG_UI.INVALID_RESUME':
    'a resolved resume entry whose payload is not a decision `{decision, comment?, payload?, payloadHash?}`; `field` names the bad part',
  'CONSOLE.NOT_BUILT': 'the console was not built (npm run build:console)',
  'CONSOLE.NOT_FOUND': 'no such console file',
  'HTTP.BAD_REQUEST': 'a request the HTTP layer refused',
  'HTTP.NOT_FOUND': 'no such route',
  INTERNAL: 'an unexpected error (the server log has the details)',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}
