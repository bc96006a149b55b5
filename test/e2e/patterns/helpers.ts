import assert from 'node:assert/strict';
import { RunViewSchema } from '@parley/contracts';
import { type HttpClient, waitFor } from '@parley/testing';

/** Shared steps of the pattern e2e specs: everything through the REST API, nothing in-process. */

/**
 * JSON read from the API, loosely typed for the assertions; `getRun` checks each run view against the
 * contract (`RunViewSchema`, libs/contracts/src/http/responses.ts).
 */

export type Json = any;

export interface Envelope {
  eventId: string;
  runId: string;
  seq: number;
  type: string;
  at: string;
  actor: { kind: string; id: string };
  data: Json;
  prevHash: string;
  hash: string;
}

export interface RequestView {
  id: string;
  kind: string;
  status: string;
  subject: Json;
  title: string;
  ask: string;
  payload: Json;
  payloadHash: string;
  decisions: string[];
  roles: string[];
  fourEyes: boolean;
  requester: string;
  createdAt: string;
  deadline: string | null;
  onTimeout: { action: string; escalateTo?: string } | null;
  claimedBy: { id: string } | null;
  escalation: Json;
}

export interface RunView {
  runId: string;
  workflow: string;
  status: string;
  output: string | null;
  seq: number;
  currentAgent: string | null;
  transcript: Array<{ seq: number; role: string; speaker: string; content: string }>;
  pendingRequests: RequestView[];
  toolCalls: Array<{
    callId: string;
    tool: string;
    args: Json;
    status: string;
    result: Json;
    error: string | null;
  }>;
  plan: Json;
  failure: { code: string; message: string } | null;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];

export async function startRun(client: HttpClient, workflow: string, input: string): Promise<string> {
  const answer = await client.post('/api/runs', { workflow, input });
  assert.equal(answer.status, 201, `POST /api/runs ${workflow}: ${JSON.stringify(answer.body)}`);
  assert.equal(typeof answer.body.runId, 'string');
  return answer.body.runId;
}

export async function getRun(client: HttpClient, runId: string): Promise<RunView> {
  const answer = await client.get(`/api/runs/${runId}`);
  assert.equal(answer.status, 200, `GET /api/runs/${runId}: ${JSON.stringify(answer.body)}`);
  // every run view a test reads is checked against the contract the console and the CLI rely on
  const checked = RunViewSchema.safeParse(answer.body);
  assert.ok(
    checked.success,
    `GET /api/runs/${runId} does not match RunViewSchema: ${checked.error?.message}`,
  );
  return answer.body;
}

export async function events(client: HttpClient, runId: string): Promise<Envelope[]> {
  const answer = await client.get(`/api/runs/${runId}/events`);
  assert.equal(answer.status, 200, `GET /api/runs/${runId}/events: ${JSON.stringify(answer.body)}`);
  const list: Envelope[] = answer.body.events;
  assert.deepEqual(
    list.map((e) => e.seq),
    list.map((_, i) => i + 1),
    'the events of a run are numbered 1..N without gaps',
  );
  return list;
}

export const typesOf = (list: Envelope[]): string[] => list.map((e) => e.type);

/** The events after `seq` (exclusive). */
export const after = (list: Envelope[], seq: number): Envelope[] => list.filter((e) => e.seq > seq);

/**
 * Wait until the run reaches a state where the engine has stopped driving it: waiting for a human
 * or ended. Fails at once (with the run's failure) when it ends otherwise than expected.
 */
export async function waitForStatus(
  client: HttpClient,
  runId: string,
  status: string,
  timeoutMs = 15_000,
): Promise<RunView> {
  const view = await waitFor(
    `run ${runId} to be ${status}`,
    async () => {
      const v = await getRun(client, runId);
      return (v.status === status || TERMINAL.includes(v.status)) && v;
    },
    { timeoutMs },
  );
  assert.equal(
    view.status,
    status,
    `run ${runId} is ${view.status}, expected ${status} (failure: ${JSON.stringify(view.failure)})`,
  );
  return view;
}

/** Wait until the run waits on a pending request that `match` accepts; returns it. */
export async function waitForRequest(
  client: HttpClient,
  runId: string,
  match: (r: RequestView) => boolean,
  what = 'a matching request',
  timeoutMs = 15_000,
): Promise<{ run: RunView; request: RequestView }> {
  const found = await waitFor(
    `run ${runId} to wait on ${what}`,
    async () => {
      const v = await getRun(client, runId);
      if (TERMINAL.includes(v.status)) return { run: v, request: undefined };
      const request = v.pendingRequests.find(match);
      return request && { run: v, request };
    },
    { timeoutMs },
  );
  assert.ok(
    found.request,
    `run ${runId} ended (${found.run.status}) instead of waiting on ${what}: ${JSON.stringify(found.run.failure)}`,
  );
  assert.equal(found.run.status, 'waiting');
  return { run: found.run, request: found.request };
}

export async function decide(
  client: HttpClient,
  requestId: string,
  body: Record<string, unknown>,
): Promise<Json> {
  const answer = await client.post(`/api/requests/${requestId}/decision`, body);
  assert.equal(
    answer.status,
    200,
    `decision ${JSON.stringify(body)} on ${requestId}: ${JSON.stringify(answer.body)}`,
  );
  assert.equal(answer.body.status, 'resolved');
  return answer.body;
}

/** A 4xx answer with a coded error body. */
export function assertError(
  answer: { status: number; body: Json },
  status: number,
  code: string | RegExp,
  field?: string,
): void {
  assert.equal(
    answer.status,
    status,
    `expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
  );
  assert.ok(answer.body?.error, `an error body: ${JSON.stringify(answer.body)}`);
  if (typeof code === 'string') assert.equal(answer.body.error.code, code);
  else assert.match(answer.body.error.code, code);
  assert.equal(typeof answer.body.error.message, 'string');
  if (field !== undefined) assert.equal(answer.body.error.field, field);
}

/** The first event of `type` (after `from`, exclusive) matching `match`. */
export function findEvent(
  list: Envelope[],
  type: string,
  match: (e: Envelope) => boolean = () => true,
  from = 0,
): Envelope {
  const event = list.find((e) => e.seq > from && e.type === type && match(e));
  assert.ok(event, `no ${type} event after seq ${from}: ${typesOf(list).join(', ')}`);
  return event;
}

export const modelCalls = (
  list: Envelope[],
  purpose: string,
  status: 'started' | 'completed' = 'completed',
): Envelope[] => list.filter((e) => e.type === `model-call.${status}` && e.data.purpose === purpose);

/** What the offline model quotes of the last user message: its first 12 words. */
export function quoted(text: string): string {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  return `You wrote: "${words.slice(0, 12).join(' ')}${words.length > 12 ? ' ...' : ''}"`;
}

/** `content-pipeline` with both reviews approved: the same on every event log. */
export const CONTENT_PIPELINE_APPROVED = [
  'run.started',
  'model-call.started',
  'model-call.completed',
  'human-request.opened',
  'human-decision.recorded',
  'human-request.resolved',
  'model-call.started',
  'model-call.completed',
  'human-request.opened',
  'human-decision.recorded',
  'human-request.resolved',
  'model-call.started',
  'model-call.completed',
  'run.completed',
];

/** Run `content-pipeline`, approving both reviews; returns the run's events. */
export async function runContentPipelineApproved(
  client: HttpClient,
  input: string,
): Promise<{ runId: string; log: Envelope[]; output: string | null }> {
  const runId = await startRun(client, 'content-pipeline', input);
  const first = await waitForRequest(
    client,
    runId,
    (r) => r.subject.type === 'stage' && r.subject.index === 0,
    'the stage 0 review',
    30_000,
  );
  await decide(client, first.request.id, { decision: 'approve' });
  const second = await waitForRequest(
    client,
    runId,
    (r) => r.subject.type === 'stage' && r.subject.index === 1,
    'the stage 1 review',
    30_000,
  );
  await decide(client, second.request.id, { decision: 'approve' });
  const done = await waitForStatus(client, runId, 'completed', 30_000);
  return { runId, log: await events(client, runId), output: done.output };
}
