import assert from 'node:assert/strict';
import { ErrorBody } from '@parley/contracts';
import {
  ParleyProcess,
  TEST_USERS,
  runInStatus,
  waitFor,
  type ParleyOptions,
  type TestUser,
} from '@parley/testing';

/** A real server with one run waiting for a human (no deadline): bad input aimed at real ids. */
export interface FuzzTarget {
  server: ParleyProcess;
  pid: number;
  runId: string;
  requestId: string;
  /** The store's last global position once the fixture run is waiting. */
  position: number;
}

export async function startFuzzTarget(options: ParleyOptions = {}): Promise<FuzzTarget> {
  const server = await ParleyProcess.start(options);
  const api = server.client('carol');
  const started = await api.post('/api/runs', { workflow: 'content-pipeline', input: 'A fuzzing target' });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  await runInStatus(api, started.body.runId, 'waiting');
  const open = await server.client('alice').get(`/api/requests?runId=${started.body.runId}`);
  const id: string | undefined = open.body.requests?.[0]?.id;
  assert.ok(id, `the fixture run waits for a request: ${JSON.stringify(open.body)}`);
  const position = await settledPosition(server);
  return { server, pid: server.child.pid!, runId: started.body.runId, requestId: id, position };
}

/** The last global position, once it has stopped moving (the fixture run has come to rest). */
export async function settledPosition(server: ParleyProcess): Promise<number> {
  let last = -1;
  return waitFor(
    'the event log at rest',
    async () => {
      const now = await lastPosition(server);
      const settled = now === last;
      last = now;
      return settled ? now : undefined;
    },
    { intervalMs: 150, timeoutMs: 20_000 },
  );
}

export async function lastPosition(server: ParleyProcess): Promise<number> {
  const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await health.json()) as { status: string; lastPosition: number; instance: string };
  assert.equal(health.status, 200);
  assert.equal(typeof body.lastPosition, 'number');
  return body.lastPosition;
}

/**
 * The server is up, is the same process, says ok, and nothing was appended since `since`
 * (default: the fixture's position; a property passes the position read just before its input,
 * so that fast-check shrinks to the input that appended, not to whatever came after it).
 */
export async function assertUntouched(
  target: FuzzTarget,
  what: string,
  since = target.position,
): Promise<void> {
  const { server } = target;
  assert.equal(server.child.exitCode, null, `${what}: the server process exited`);
  assert.equal(server.child.signalCode, null, `${what}: the server process was killed`);
  const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await health.json()) as { status: string; lastPosition: number; instance: string };
  assert.equal(health.status, 200, `${what}: /health ${health.status}`);
  assert.equal(body.status, 'ok', `${what}: /health ${JSON.stringify(body)}`);
  assert.equal(body.instance, `parley-${target.pid}`, `${what}: the same process answers`);
  assert.equal(body.lastPosition, since, `${what}: nothing appended`);
}

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
  body: unknown;
  ms: number;
}

/** One HTTP request with raw control over the body and headers; a hang is a failure (10 s). */
export async function send(
  target: FuzzTarget,
  method: string,
  path: string,
  init: { body?: string | Uint8Array; headers?: Record<string, string>; user?: TestUser | null } = {},
): Promise<RawAnswer> {
  const user = init.user === undefined ? 'admin' : init.user;
  const started = performance.now();
  const response = await fetch(`${target.server.url}${path}`, {
    method,
    headers: {
      ...(user ? { authorization: `Bearer ${TEST_USERS[user].token}` } : {}),
      ...init.headers,
    },
    body: init.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let body: unknown = text;
  if (contentType.includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, contentType, text, body, ms: performance.now() - started };
}

/** A coded 4xx: `{error: {code, message, field?}}` (never a 5xx, never an uncoded body). */
export function assertCoded4xx(answer: RawAnswer, what: string): ErrorBody['error'] {
  const show = `${what} → ${answer.status} ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status >= 400 && answer.status < 500, `not a 4xx: ${show}`);
  assert.match(answer.contentType, /application\/json/, `not JSON: ${show}`);
  const parsed = ErrorBody.safeParse(answer.body);
  assert.ok(parsed.success, `not {error: {code, message}}: ${show}`);
  assert.ok(parsed.data.error.code.length > 0 && parsed.data.error.message.length > 0, `empty code: ${show}`);
  assert.notEqual(parsed.data.error.code, 'INTERNAL', show);
  return parsed.data.error;
}
