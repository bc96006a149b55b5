import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import {
  ParleyProcess,
  REPO_ROOT,
  TEST_USERS,
  runInStatus,
  waitFor,
  type HttpAnswer,
  type HttpClient,
  type TestUser,
} from '@parley/testing';

/**
 * Nobody decides what is not theirs to decide (docs/RELIABILITY.md §4). A real server process
 * (SQLite log, offline model), real HTTP and socket.io clients. Every refusal is checked three
 * ways: the coded error, the run's events (count and head seq) and the log's global position, all
 * unchanged.
 */
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'workflows');

/** Tokens that are not a person's: an agent's and an automation's, with strong roles. */
const AGENT = {
  token: 'agent-token-0123456789abcdef',
  id: 'refund-agent',
  roles: ['approver'],
  kind: 'agent',
};
const SERVICE = { token: 'service-token-0123456789abcd', id: 'ci-bot', roles: ['admin'], kind: 'service' };

/** Figures for the report, printed at the end. */
const figures = { decisionsSent: 0, applied: 0, unchanged: 0, refused: new Map<string, number>() };

describe('security: decisions', () => {
  let server: ParleyProcess;
  const sockets: Socket[] = [];

  const dataDir = mkdtempSync(join(tmpdir(), 'parley-security-'));

  before(async () => {
    // The test users, plus the agent's and the service's tokens.
    const tokensFile = join(dataDir, 'security-tokens.json');
    writeFileSync(tokensFile, JSON.stringify([...Object.values(TEST_USERS), AGENT, SERVICE]));
    server = await ParleyProcess.start({
      dataDir,
      env: { PARLEY_WORKFLOWS_DIR: FIXTURES, PARLEY_TOKENS_FILE: tokensFile },
    });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
    process.stdout.write(
      `# figures: decisions sent ${figures.decisionsSent}: applied ${figures.applied}, unchanged ${figures.unchanged}, refused ` +
        `${[...figures.refused].map(([code, n]) => `${code} ${n}`).join(', ')}\n`,
    );
  });

  const api = (user: TestUser = 'admin'): HttpClient => server.client(user);

  async function startRun(
    user: TestUser,
    workflow: string,
    input: string,
  ): Promise<{ runId: string; request: any }> {
    const answer = await api(user).post('/api/runs', { workflow, input });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const run = await runInStatus(api(), answer.body.runId, 'waiting');
    return { runId: run.runId, request: run.pendingRequests[0] };
  }

  /** What must not move when a decision is refused. */
  async function snapshot(runId: string): Promise<{ events: number; seq: number; position: number }> {
    const events = (await api().get(`/api/runs/${runId}/events`)).body.events.length;
    const seq = (await api().get(`/api/runs/${runId}`)).body.seq;
    const position = (await api().get('/health')).body.lastPosition;
    return { events, seq, position };
  }

  async function decideHttp(token: string, requestId: string, body: unknown): Promise<HttpAnswer> {
    figures.decisionsSent += 1;
    const answer = await api().as(token).post(`/api/requests/${requestId}/decision`, body);
    count(answer.status === 200 ? answer.body.status : answer.body.error.code);
    return answer;
  }

  function count(outcome: string): void {
    if (outcome === 'unchanged') figures.unchanged += 1;
    else if (outcome === 'recorded' || outcome === 'resolved') figures.applied += 1;
    else figures.refused.set(outcome, (figures.refused.get(outcome) ?? 0) + 1);
  }

  async function socketAs(token: string): Promise<Socket> {
    const socket = io(server.url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  async function decideSocket(socket: Socket, message: Record<string, unknown>): Promise<any> {
    figures.decisionsSent += 1;
    const ack = await socket.timeout(10_000).emitWithAck('request:decide', message);
    count(ack.ok ? ack.status : ack.error.code);
    return ack;
  }

  /** A refusal: the coded error, and nothing appended anywhere. */
  async function assertRefused(
    runId: string,
    code: string,
    status: number,
    attempt: () => Promise<HttpAnswer | { ok: boolean; error?: { code: string } }>,
  ): Promise<void> {
    const before = await snapshot(runId);
    const answer = await attempt();
    if ('status' in answer) {
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, code);
    } else {
      assert.equal(answer.ok, false, JSON.stringify(answer));
      assert.equal(answer.error?.code, code);
    }
    assert.deepEqual(await snapshot(runId), before, `${code}: nothing appended`);
  }

  const refundsOf = async (runId: string): Promise<Array<{ amount: number }>> =>
    (await api().get(`/api/refunds?runId=${runId}`)).body.refunds;

  it('the same decision sent 10 times (HTTP and socket.io, concurrently) is applied once', async () => {
    const { runId, request } = await startRun('carol', 'refund-quorum', 'Please refund $300 for order #S1');
    assert.equal(request.quorum, 2);
    const start = await snapshot(runId);
    const aliceSocket = await socketAs(TEST_USERS.alice.token);
    const approve = { decision: 'approve', payloadHash: request.payloadHash };
    const first = await Promise.all([
      ...Array.from({ length: 5 }, () => decideHttp(TEST_USERS.alice.token, request.id, approve)),
      ...Array.from({ length: 5 }, () => decideSocket(aliceSocket, { requestId: request.id, ...approve })),
    ]);
    const statuses = first.map((a) =>
      'status' in a && typeof a.status === 'number' ? a.body.status : a.status,
    );
    assert.deepEqual(
      statuses.filter((s) => s === 'recorded').length,
      1,
      `one vote recorded, the rest unchanged: ${statuses.join(',')}`,
    );
    assert.equal(statuses.filter((s) => s === 'unchanged').length, 9);
    const afterAlice = await snapshot(runId);
    assert.equal(afterAlice.events, start.events + 1, 'one human-decision.recorded');

    // The second approver's 10 copies: one resolves the request, nine change nothing.
    const bobSocket = await socketAs(TEST_USERS.bob.token);
    const second = await Promise.all([
      ...Array.from({ length: 5 }, () => decideHttp(TEST_USERS.bob.token, request.id, approve)),
      ...Array.from({ length: 5 }, () => decideSocket(bobSocket, { requestId: request.id, ...approve })),
    ]);
    const bobStatuses = second.map((a) =>
      'status' in a && typeof a.status === 'number' ? a.body.status : a.status,
    );
    assert.equal(bobStatuses.filter((s) => s === 'resolved').length, 1, bobStatuses.join(','));
    assert.equal(bobStatuses.filter((s) => s === 'unchanged').length, 9);

    await runInStatus(api(), runId, 'completed');
    const types: string[] = (await api().get(`/api/runs/${runId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );
    assert.equal(types.filter((t) => t === 'human-decision.recorded').length, 2);
    assert.equal(types.filter((t) => t === 'human-request.resolved').length, 1);
    assert.equal(types.filter((t) => t === 'tool-call.started').length, 1);
    assert.deepEqual(
      (await refundsOf(runId)).map((r) => r.amount),
      [300],
      'one refund',
    );
    // Sent again once it is all over: still the earlier outcome, nothing appended.
    const done = await snapshot(runId);
    const late = await decideHttp(TEST_USERS.bob.token, request.id, approve);
    assert.equal(late.body.status, 'unchanged');
    assert.deepEqual(await snapshot(runId), done);
  });

  it('a decision bound to arguments that changed since they were shown is refused (quorum 2, the first approver edits)', async () => {
    const { runId, request } = await startRun('carol', 'refund-quorum', 'Please refund $400 for order #S2');
    const shownToBob = request.payloadHash; // bob loads the request: $400
    assert.equal(request.payload.args.amount, 400);

    // alice, who saw the same, edits the refund down to $120.
    const edited = { args: { order_id: 'S2', amount: 120, reason: 'partial refund' } };
    const edit = await decideHttp(TEST_USERS.alice.token, request.id, {
      decision: 'edit',
      payload: edited,
      payloadHash: shownToBob,
    });
    assert.equal(edit.body.status, 'recorded', JSON.stringify(edit.body));

    // bob approves what he saw ($400): refused; without any hash: refused too.
    const bobSocket = await socketAs(TEST_USERS.bob.token);
    await assertRefused(runId, 'REQUEST.STALE_PAYLOAD', 409, () =>
      decideHttp(TEST_USERS.bob.token, request.id, { decision: 'approve', payloadHash: shownToBob }),
    );
    await assertRefused(runId, 'REQUEST.STALE_PAYLOAD', 409, () =>
      decideSocket(bobSocket, { requestId: request.id, decision: 'approve', payloadHash: shownToBob }),
    );
    await assertRefused(runId, 'REQUEST.PAYLOAD_HASH_REQUIRED', 409, () =>
      decideHttp(TEST_USERS.bob.token, request.id, { decision: 'approve' }),
    );

    // Reloaded, the request shows the edited refund and its own hash; approving that settles it.
    const reloaded = (await api('bob').get(`/api/requests/${request.id}`)).body;
    assert.equal(reloaded.payload.args.amount, 120);
    assert.equal(reloaded.payload.tool, 'process_refund');
    assert.deepEqual(reloaded.editedBy, { id: 'alice', role: 'approver' });
    assert.notEqual(reloaded.payloadHash, shownToBob);
    const ok = await decideSocket(bobSocket, {
      requestId: request.id,
      decision: 'approve',
      payloadHash: reloaded.payloadHash,
    });
    assert.equal(ok.status, 'resolved', JSON.stringify(ok));
    await runInStatus(api(), runId, 'completed');
    assert.deepEqual(
      (await refundsOf(runId)).map((r) => r.amount),
      [120],
      'the refund that both approved',
    );
    const audit = (await api().get(`/api/requests/${request.id}`)).body.votes.map(
      (v: { by: { id: string }; decision: string }) => `${v.by.id}:${v.decision}`,
    );
    assert.deepEqual(audit, ['alice:edit', 'bob:approve']);
  });

  it("a hash shown for another tool call (other arguments) is refused; the run's own hash is accepted", async () => {
    const a = await startRun('carol', 'refund-quorum', 'Please refund $150 for order #S3');
    const b = await startRun('carol', 'refund-quorum', 'Please refund $900 for order #S4');
    assert.notEqual(a.request.payloadHash, b.request.payloadHash);
    await assertRefused(a.runId, 'REQUEST.STALE_PAYLOAD', 409, () =>
      decideHttp(TEST_USERS.alice.token, a.request.id, {
        decision: 'approve',
        payloadHash: b.request.payloadHash,
      }),
    );
    const good = await decideHttp(TEST_USERS.alice.token, a.request.id, {
      decision: 'approve',
      payloadHash: a.request.payloadHash,
    });
    assert.equal(good.body.status, 'recorded');
    for (const run of [a, b]) {
      const r = await decideHttp(TEST_USERS.bob.token, run.request.id, {
        decision: 'reject',
        comment: 'test done',
      });
      assert.equal(r.body.status, 'resolved');
      await runInStatus(api(), run.runId, 'completed');
    }
  });

  it("an agent's or a service's identity may not decide, claim or speak, whatever its roles (HTTP and socket.io)", async () => {
    const { runId, request } = await startRun('carol', 'refund-quorum', 'Please refund $250 for order #S5');
    // The tokens are valid: they read and start runs like any token with their roles.
    assert.equal((await api().as(AGENT.token).get(`/api/requests/${request.id}`)).status, 200);
    const body = { decision: 'approve', payloadHash: request.payloadHash };
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () => decideHttp(AGENT.token, request.id, body));
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () => decideHttp(SERVICE.token, request.id, body));
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () =>
      decideHttp(SERVICE.token, request.id, { decision: 'reject', comment: 'no' }),
    );
    const agentSocket = await socketAs(AGENT.token);
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () =>
      decideSocket(agentSocket, { requestId: request.id, ...body }),
    );
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () =>
      api().as(AGENT.token).post(`/api/requests/${request.id}/claim`),
    );
    await assertRefused(runId, 'AUTH.NOT_A_HUMAN', 403, () =>
      api().as(SERVICE.token).post(`/api/runs/${runId}/messages`, { text: 'I approve this refund' }),
    );
    const serviceRun = await api().as(SERVICE.token).post('/api/runs', {
      workflow: 'refund-quorum',
      input: 'Please refund $50 for order #S6',
    });
    assert.equal(serviceRun.status, 201, 'a service token still starts runs');
    await runInStatus(api(), serviceRun.body.runId, 'completed', 'waiting');
    // Two humans decide it.
    for (const user of ['alice', 'bob'] as const) {
      const r = await decideHttp(TEST_USERS[user].token, request.id, body);
      assert.ok(['recorded', 'resolved'].includes(r.body.status), JSON.stringify(r.body));
    }
    await runInStatus(api(), runId, 'completed');
    const deciders = (await api().get(`/api/runs/${runId}/events`)).body.events
      .filter((e: { type: string }) => e.type === 'human-decision.recorded')
      .map((e: { actor: { kind: string; id: string } }) => `${e.actor.kind}:${e.actor.id}`);
    assert.deepEqual(deciders, ['human:alice', 'human:bob']);
  });

  it('under four-eyes, the requester may not approve (nor edit, nor reject) their own request, even as admin', async () => {
    const own = await startRun('alice', 'refund-quorum', 'Please refund $350 for order #S7');
    assert.equal(own.request.fourEyes, true);
    assert.equal(own.request.requester, 'alice');
    const aliceSocket = await socketAs(TEST_USERS.alice.token);
    const approve = { decision: 'approve', payloadHash: own.request.payloadHash };
    await assertRefused(own.runId, 'REQUEST.FOUR_EYES', 403, () =>
      decideHttp(TEST_USERS.alice.token, own.request.id, approve),
    );
    await assertRefused(own.runId, 'REQUEST.FOUR_EYES', 403, () =>
      decideSocket(aliceSocket, { requestId: own.request.id, ...approve }),
    );
    await assertRefused(own.runId, 'REQUEST.FOUR_EYES', 403, () =>
      decideHttp(TEST_USERS.alice.token, own.request.id, {
        decision: 'edit',
        payload: { args: { order_id: 'S7', amount: 101, reason: 'mine' } },
        payloadHash: own.request.payloadHash,
      }),
    );
    const admins = await startRun('admin', 'refund-quorum', 'Please refund $360 for order #S8');
    await assertRefused(admins.runId, 'REQUEST.FOUR_EYES', 403, () =>
      decideHttp(TEST_USERS.admin.token, admins.request.id, {
        decision: 'approve',
        payloadHash: admins.request.payloadHash,
      }),
    );
    for (const run of [own, admins]) {
      const r = await decideHttp(TEST_USERS.bob.token, run.request.id, {
        decision: 'reject',
        comment: 'four-eyes test',
      });
      assert.equal(r.body.status, 'resolved');
      await runInStatus(api(), run.runId, 'completed');
      assert.deepEqual(await refundsOf(run.runId), []);
    }
  });

  it('a decision after the deadline is refused, over HTTP and socket.io', async () => {
    const { runId, request } = await startRun(
      'carol',
      'refund-reject-timeout',
      'Please refund $130 for order #S9',
    );
    assert.ok(request.deadline, 'the request has a deadline');
    await waitFor('the deadline has passed', () => Date.now() > Date.parse(request.deadline) + 100, {
      timeoutMs: 10_000,
    });
    // The scheduler closes it (timeout: reject) and the run carries on to its end.
    const done = await runInStatus(api(), runId, 'completed');
    assert.equal(done.toolCalls[0].status, 'rejected');
    const bobSocket = await socketAs(TEST_USERS.bob.token);
    const approve = { decision: 'approve', payloadHash: request.payloadHash };
    await assertRefused(runId, 'REQUEST.EXPIRED', 409, () =>
      decideHttp(TEST_USERS.bob.token, request.id, approve),
    );
    await assertRefused(runId, 'REQUEST.EXPIRED', 409, () =>
      decideSocket(bobSocket, { requestId: request.id, ...approve }),
    );
    assert.deepEqual(await refundsOf(runId), []);
  });
});
