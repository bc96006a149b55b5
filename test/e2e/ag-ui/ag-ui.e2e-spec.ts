import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, runInStatus, waitFor } from '@parley/testing';
import {
  aguiAgent,
  customs,
  finished,
  interruptsOf,
  refused,
  runOnce,
  typesOf,
  userMessage,
  type AnyEvent,
} from './ag-ui-client';

/** The shipped refund desk and debate, and two fixtures (a quorum of two; a 2 s deadline), in one folder. */
function workflowsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-agui-workflows-'));
  for (const file of ['refund-desk.yaml', 'debate.yaml', 'content-pipeline.yaml', 'incident-response.yaml'])
    symlinkSync(join(REPO_ROOT, 'workflows', file), join(dir, file));
  for (const file of ['refund-quorum.yaml', 'refund-timeout.yaml', 'refund-confirm.yaml'])
    symlinkSync(join(REPO_ROOT, 'test', 'fixtures', 'workflows', file), join(dir, file));
  return dir;
}

const textOf = (events: AnyEvent[], messageId: string): string =>
  events
    .filter((e) => e.type === 'TEXT_MESSAGE_CONTENT' && e.messageId === messageId)
    .map((e) => e.delta)
    .join('');

describe('AG-UI over SSE (POST /api/ag-ui/:workflow) with the real @ag-ui/client', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start({
      // tokens at a human pace, so that a model call is observably streamed
      env: { PARLEY_WORKFLOWS_DIR: workflowsDir(), OFFLINE_MODEL_TOKEN_LATENCY_MS: '3' },
    });
  });
  after(async () => server?.dispose());

  it('a refund interrupts on its approval; the starter may not approve (four-eyes); a second human resumes it; the tool runs once', async () => {
    const alice = aguiAgent(server, 'alice', 'refund-desk');
    alice.addMessage(userMessage('Please refund $150 for order A123, it arrived broken'));
    const first = await runOnce(alice);
    const runId = alice.threadId;

    assert.equal(first.events[0].type, 'RUN_STARTED');
    assert.equal(first.events[0].threadId, runId);
    const call = first.events.find((e) => e.type === 'TOOL_CALL_START');
    assert.ok(call, typesOf(first.events).join());
    assert.equal(call.toolCallName, 'process_refund');
    const args = JSON.parse(
      first.events.find((e) => e.type === 'TOOL_CALL_ARGS' && e.toolCallId === call.toolCallId)!.delta,
    );
    assert.equal(args.amount, 150);
    assert.equal(customs(first.events, 'parley:request-opened').length, 1);
    assert.equal(first.events[first.events.length - 2].type, 'STATE_SNAPSHOT');

    const [interrupt] = interruptsOf(first.events);
    assert.equal(interruptsOf(first.events).length, 1);
    assert.equal(interrupt.toolCallId, call.toolCallId, 'the interrupt names the tool call it gates');
    assert.equal(interrupt.reason, 'parley:four-eyes', 'alice started the run: she may not approve it');
    assert.equal(interrupt.parley.answerable, false);
    assert.equal(interrupt.parley.request.kind, 'approval');
    assert.equal(interrupt.parley.request.fourEyes, true);
    assert.equal((interrupt.parley.request.payload as any).args.amount, 150);
    assert.ok(
      interrupt.expiresAt && Date.parse(interrupt.expiresAt) > Date.now() + 50 * 60_000,
      'a 1 h deadline',
    );
    const schema = interrupt.responseSchema as any;
    assert.ok(schema.properties.decision.enum.includes('approve'), JSON.stringify(schema));
    assert.deepEqual(schema.required, ['decision']);
    assert.deepEqual(
      alice.pendingInterrupts.map((i) => i.id),
      [interrupt.id],
    );

    // The starter's own approval is refused with the command's code, naming the resume entry; nothing is appended.
    const before = (await server.client().get(`/api/runs/${runId}/events`)).body.events.length;
    const own = await refused(
      runOnce(alice, {
        resume: [{ interruptId: interrupt.id, status: 'resolved', payload: { decision: 'approve' } }],
      }),
    );
    assert.equal(own.status, 403);
    assert.equal(own.error.code, 'REQUEST.FOUR_EYES');
    assert.equal(own.error.field, 'resume.0.interruptId');
    assert.equal((await server.client().get(`/api/runs/${runId}/events`)).body.events.length, before);

    // Bob, on another client that never saw the thread, resumes it: the whole run, then the rest.
    const bob = aguiAgent(server, 'bob', 'refund-desk', runId);
    const resumed = await runOnce(bob, {
      resume: [
        {
          interruptId: interrupt.id,
          status: 'resolved',
          payload: { decision: 'approve', payloadHash: interrupt.parley.request.payloadHash },
        },
      ],
    });
    const decisions = customs(resumed.events, 'parley:decision-recorded');
    assert.deepEqual(
      decisions.map((d) => [d.vote.by.id, d.vote.decision]),
      [['bob', 'approve']],
    );
    const results = resumed.events.filter((e) => e.type === 'TOOL_CALL_RESULT');
    assert.equal(results.length, 1, 'the tool ran once');
    assert.equal(results[0].toolCallId, call.toolCallId);
    assert.equal(JSON.parse(results[0].content).status, 'refunded');
    const done = finished(resumed.events);
    assert.deepEqual(done.outcome, { type: 'success' });
    const run = await runInStatus(server.client(), runId, 'completed');
    assert.equal(done.result, run.output);
    assert.deepEqual(bob.pendingInterrupts, []);

    // The agent's answer after the refund began while bob's stream listened: streamed token by token.
    const lastCall = resumed.events.filter((e) => e.type === 'TEXT_MESSAGE_START').pop()!;
    const deltas = resumed.events.filter(
      (e) => e.type === 'TEXT_MESSAGE_CONTENT' && e.messageId === lastCall.messageId,
    );
    assert.ok(deltas.length > 3, `streamed in ${deltas.length} pieces`);
    const said = run.transcript.filter((t: any) => t.role === 'agent').pop()!.content;
    assert.equal(textOf(resumed.events, lastCall.messageId), said);
    assert.equal(bob.messages.find((m) => m.id === lastCall.messageId)?.content, said);

    // Alice's client goes on from where it stopped (its STATE_SNAPSHOT's seq): it sees bob's decision and
    // the refund, once. Her client must address the interrupt it holds: `cancelled` decides nothing.
    const watched = await runOnce(alice, { resume: [{ interruptId: interrupt.id, status: 'cancelled' }] });
    assert.deepEqual(
      customs(watched.events, 'parley:decision-recorded').map((d) => d.vote.by.id),
      ['bob'],
      "another human's decision",
    );
    assert.equal(watched.events.filter((e) => e.type === 'TOOL_CALL_RESULT').length, 1);
    assert.equal(watched.events.filter((e) => e.type === 'TOOL_CALL_START').length, 0, 'nothing seen twice');
    assert.deepEqual(finished(watched.events).outcome, { type: 'success' });

    const refunds = (await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds;
    assert.equal(refunds.length, 1);
    assert.equal(refunds[0].amount, 150);
  });

  it('a quorum of two over two AG-UI clients: the first vote is progress, the second resolves it', async () => {
    const carol = aguiAgent(server, 'carol', 'refund-quorum');
    carol.addMessage(userMessage('Please refund $300 for order #Q1'));
    const opened = interruptsOf((await runOnce(carol)).events);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].reason, 'parley:other-role', 'carol is no approver');
    assert.equal(opened[0].parley.request.quorum, 2);
    const runId = carol.threadId;
    const approve = (interruptId: string) => ({
      resume: [{ interruptId, status: 'resolved' as const, payload: { decision: 'approve' } }],
    });

    const alice = aguiAgent(server, 'alice', 'refund-quorum', runId);
    const firstVote = await runOnce(alice, approve(opened[0].id));
    assert.deepEqual(
      customs(firstVote.events, 'parley:decision-recorded').map((d) => [d.vote.by.id, d.votes, d.quorum]),
      [['alice', 1, 2]],
    );
    const [waiting] = interruptsOf(firstVote.events);
    assert.equal(waiting.id, opened[0].id, 'the same request, still open');
    assert.equal(
      waiting.reason,
      'parley:quorum-pending',
      "alice's vote counts; the quorum waits for another",
    );
    assert.deepEqual(
      waiting.parley.request.votes.map((v) => v.by.id),
      ['alice'],
    );
    assert.equal(firstVote.events.filter((e) => e.type === 'TOOL_CALL_RESULT').length, 0, 'no refund yet');

    const bob = aguiAgent(server, 'bob', 'refund-quorum', runId);
    const secondVote = await runOnce(bob, approve(opened[0].id));
    assert.deepEqual(
      customs(secondVote.events, 'parley:decision-recorded').map((d) => [d.vote.by.id, d.votes]),
      [
        ['alice', 1],
        ['bob', 2],
      ],
      'a client new to the thread sees it from the start',
    );
    assert.deepEqual(
      customs(secondVote.events, 'parley:request-resolved').map((r) => r.deciders.map((d: any) => d.id)),
      [['alice', 'bob']],
    );
    assert.equal(secondVote.events.filter((e) => e.type === 'TOOL_CALL_RESULT').length, 1);
    assert.deepEqual(finished(secondVote.events).outcome, { type: 'success' });

    // Alice's client, on from its own position, sees bob's vote and the refund.
    const seen = await runOnce(alice, { resume: [{ interruptId: opened[0].id, status: 'cancelled' }] });
    assert.deepEqual(
      customs(seen.events, 'parley:decision-recorded').map((d) => d.vote.by.id),
      ['bob'],
    );
    assert.equal(seen.events.filter((e) => e.type === 'TOOL_CALL_RESULT').length, 1);
    assert.equal((await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 1);
  });

  it("a group chat: one client's message does not block the other's; each sees both", async () => {
    const carol = aguiAgent(server, 'carol', 'debate');
    carol.addMessage(userMessage('Remote work is better than office work'));
    const carolEvents: AnyEvent[] = [];
    let firstToken = false;
    const carolRun = carol.runAgent(
      {},
      {
        onEvent: ({ event }) => {
          carolEvents.push(event as AnyEvent);
          if (event.type === 'TEXT_MESSAGE_CONTENT') firstToken = true;
        },
      },
    );
    await waitFor('the first speaker to be speaking', () => firstToken, { timeoutMs: 20_000 });

    // Maya joins while an agent speaks, says something, and is streamed at once: no waiting for carol's run.
    const maya = aguiAgent(server, 'maya', 'debate', carol.threadId);
    maya.addMessage(userMessage('Delivery vans need access though'));
    const mayaFirst = await runOnce(maya);
    await carolRun;
    for (const events of [carolEvents, mayaFirst.events]) {
      assert.deepEqual(
        customs(events, 'parley:human-message').map((m) => [m.by.id, m.text]),
        [['maya', 'Delivery vans need access though']],
      );
      const [floor] = interruptsOf(events);
      assert.equal(floor.reason, 'input_required', 'the moderator gives the humans the floor');
    }
    const floor = interruptsOf(carolEvents)[0];
    // maya's message was taken while carol's run was going (before the floor opened), not queued behind it
    const [mayaSaid] = customs(carolEvents, 'parley:human-message');
    const [floorOpened] = customs(carolEvents, 'parley:request-opened');
    assert.ok(mayaSaid.seq < floorOpened.seq, `message at seq ${mayaSaid.seq}, floor at ${floorOpened.seq}`);
    assert.equal(floorOpened.request.id, floor.id);

    // Both speak at once, each from their own client: the first takes the floor, the other is a message.
    carol.addMessage(userMessage('Commuting wastes two hours every day'));
    maya.addMessage(userMessage('Offices help juniors learn'));
    const setAside = { resume: [{ interruptId: floor.id, status: 'cancelled' as const }] };
    const [carolSecond, mayaSecond] = await Promise.all([runOnce(carol, setAside), runOnce(maya, setAside)]);
    for (const { events } of [carolSecond, mayaSecond]) {
      const said = customs(events, 'parley:human-message').map((m) => `${m.by.id}: ${m.text}`);
      assert.ok(said.includes('carol: Commuting wastes two hours every day'), said.join(' | '));
      assert.ok(said.includes('maya: Offices help juniors learn'), said.join(' | '));
      assert.deepEqual(finished(events).outcome, { type: 'success' });
    }
    // Both streams went on from the same place (the floor): each saw every event, in the same order,
    // the same texts (cut into tokens as each received them), the same tool calls and parley:* events.
    const outline = (events: AnyEvent[]) =>
      events
        .filter((e) => !['RUN_STARTED', 'TEXT_MESSAGE_CONTENT', 'STATE_SNAPSHOT'].includes(e.type))
        .map((e) =>
          e.type === 'CUSTOM' ? `${e.name}@${e.value.seq}` : `${e.type}:${e.messageId ?? e.toolCallId ?? ''}`,
        );
    assert.deepEqual(outline(carolSecond.events), outline(mayaSecond.events));
    const ended = carolSecond.events.filter((e) => e.type === 'TEXT_MESSAGE_END');
    assert.ok(ended.length >= 3, 'the agents spoke after the humans');
    for (const { messageId } of ended)
      assert.equal(textOf(carolSecond.events, messageId), textOf(mayaSecond.events, messageId));
    const run = await runInStatus(server.client(), carol.threadId, 'completed');
    // each message is in the debate once (carol's first one is the run's input)
    const humans = run.transcript
      .filter((t: any) => t.role === 'human')
      .map((t: any) => `${t.speaker}: ${t.content}`)
      .sort();
    assert.deepEqual(humans, [
      'carol: Commuting wastes two hours every day',
      'carol: Remote work is better than office work',
      'maya: Delivery vans need access though',
      'maya: Offices help juniors learn',
    ]);
  });

  it('an expired interrupt, an unknown one and a payload that is no decision are refused with coded errors, changing nothing', async () => {
    const carol = aguiAgent(server, 'carol', 'refund-timeout');
    carol.addMessage(userMessage('Please refund $200 for order #T1'));
    const [interrupt] = interruptsOf((await runOnce(carol)).events);
    const runId = carol.threadId;
    assert.ok(interrupt.expiresAt, 'a 2 s deadline');
    await waitFor(
      'the approval to expire and escalate',
      async () =>
        (await server.client().get(`/api/runs/${runId}`)).body.pendingRequests.some(
          (r: { kind: string }) => r.kind === 'escalation',
        ),
      { timeoutMs: 15_000 },
    );
    const count = async () => (await server.client().get(`/api/runs/${runId}/events`)).body.events.length;
    const before = await count();

    // A client that never saw the interrupt (so the client's own expiry check cannot stop it) sends it anyway.
    const alice = aguiAgent(server, 'alice', 'refund-timeout', runId);
    const resume = (interruptId: string, payload: unknown) => ({
      resume: [{ interruptId, status: 'resolved' as const, payload }],
    });
    const expired = await refused(runOnce(alice, resume(interrupt.id, { decision: 'approve' })));
    assert.deepEqual(
      [expired.status, expired.error.code, expired.error.field],
      [409, 'REQUEST.EXPIRED', 'resume.0.interruptId'],
    );
    const unknown = await refused(runOnce(alice, resume('no-such-request', { decision: 'approve' })));
    assert.deepEqual(
      [unknown.status, unknown.error.code, unknown.error.field],
      [400, 'AG_UI.UNKNOWN_INTERRUPT', 'resume.0.interruptId'],
    );
    const wrong = await refused(runOnce(alice, resume(interrupt.id, { decision: 'maybe' })));
    assert.deepEqual(
      [wrong.status, wrong.error.code, wrong.error.field],
      [400, 'AG_UI.INVALID_RESUME', 'resume.0.payload.decision'],
    );
    const twice = await refused(
      runOnce(alice, {
        resume: [
          { interruptId: interrupt.id, status: 'cancelled' },
          { interruptId: interrupt.id, status: 'cancelled' },
        ],
      }),
    );
    assert.deepEqual(
      [twice.error.code, twice.error.field],
      ['AG_UI.DUPLICATE_RESUME', 'resume.1.interruptId'],
    );
    const otherWorkflow = await refused(runOnce(aguiAgent(server, 'alice', 'refund-desk', runId)));
    assert.deepEqual([otherWorkflow.status, otherWorkflow.error.code], [409, 'AG_UI.WORKFLOW_MISMATCH']);
    assert.equal(await count(), before, 'nothing was appended');

    // The client that holds the expired interrupt refuses to answer it itself, and sets it aside instead:
    // it then sees the expiry and the escalation to another role, which carol cannot answer.
    await assert.rejects(runOnce(carol, resume(interrupt.id, { decision: 'approve' })), /expired/);
    const seen = await runOnce(carol, { resume: [{ interruptId: interrupt.id, status: 'cancelled' }] });
    assert.deepEqual(
      customs(seen.events, 'parley:request-expired').map((e) => [e.requestId, e.action, e.escalateTo]),
      [[interrupt.id, 'escalate', 'manager']],
    );
    const [escalated] = interruptsOf(seen.events);
    assert.equal(escalated.parley.request.kind, 'escalation');
    assert.equal(escalated.reason, 'parley:other-role');
    assert.deepEqual(escalated.parley.request.roles, ['manager']);
  });

  it('a confirmation, a review and a plan approval are interrupts too, each with its reason and decisions', async () => {
    const cases = [
      {
        user: 'carol',
        workflow: 'refund-confirm',
        input: 'Please refund $50 for order #C1',
        reason: 'confirmation',
      },
      {
        user: 'alice',
        workflow: 'content-pipeline',
        input: 'Why event sourcing suits agents',
        reason: 'review',
      },
      {
        user: 'alice',
        workflow: 'incident-response',
        input: 'The checkout API returns 500 errors since the last deploy',
        reason: 'plan_approval',
      },
    ] as const;
    const agents = cases.map((c) => aguiAgent(server, c.user, c.workflow));
    const streams = await Promise.all(
      cases.map((c, i) => {
        agents[i].addMessage(userMessage(c.input));
        return runOnce(agents[i]);
      }),
    );
    cases.forEach((c, i) => {
      const [interrupt] = interruptsOf(streams[i].events);
      assert.equal(interrupt.reason, c.reason, c.workflow);
      assert.equal(interrupt.parley.answerable, true, `${c.user} may answer the ${c.reason}`);
      assert.deepEqual(
        (interrupt.responseSchema as any).properties.decision.enum,
        interrupt.parley.request.decisions,
        'the response schema offers exactly the decisions the request takes',
      );
    });
    // The one who asked for the refund declines it: the tool call is rejected, the run completes.
    const [confirm] = interruptsOf(streams[0].events);
    const declined = await runOnce(agents[0], {
      resume: [
        {
          interruptId: confirm.id,
          status: 'resolved',
          payload: { decision: 'decline', comment: 'changed my mind' },
        },
      ],
    });
    const [result] = declined.events.filter((e) => e.type === 'TOOL_CALL_RESULT');
    assert.deepEqual(Object.keys(JSON.parse(result.content)), ['rejected']);
    assert.deepEqual(finished(declined.events).outcome, { type: 'success' });
    assert.equal(
      (await server.client().get(`/api/refunds?runId=${agents[0].threadId}`)).body.refunds.length,
      0,
    );
  });

  it('a new thread without a user message, and a body that is no RunAgentInput, are coded 400s', async () => {
    const empty = await refused(runOnce(aguiAgent(server, 'carol', 'refund-desk')));
    assert.deepEqual(
      [empty.status, empty.error.code, empty.error.field],
      [400, 'AG_UI.NO_INPUT', 'messages'],
    );
    const raw = await fetch(`${server.url}/api/ag-ui/refund-desk`, {
      method: 'POST',
      headers: { authorization: 'Bearer carol-token-0123456789abcdef', 'content-type': 'application/json' },
      body: JSON.stringify({ threadId: 't', messages: [] }),
    });
    assert.equal(raw.status, 400);
    const body = (await raw.json()) as { error: { code: string; field: string } };
    assert.deepEqual([body.error.code, body.error.field], ['REQUEST.INVALID_BODY', 'runId']);
    const anonymous = await fetch(`${server.url}/api/ag-ui/refund-desk`, { method: 'POST' });
    assert.equal(anonymous.status, 401);
  });
});

describe('AG-UI streams when the server stops', () => {
  it('an open stream is told (RUN_ERROR STATUS.UNAVAILABLE) and does not hold the server up', async () => {
    // tokens slow enough that the debate's stream is open when SIGTERM comes
    const server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '100' } });
    try {
      const carol = aguiAgent(server, 'carol', 'debate');
      carol.addMessage(userMessage('Cities should ban cars from their centres'));
      const events: AnyEvent[] = [];
      const running = carol
        .runAgent({}, { onEvent: ({ event }) => void events.push(event as AnyEvent) })
        .catch((error: unknown) => error);
      await waitFor('the first speaker to be speaking', () =>
        events.some((e) => e.type === 'TEXT_MESSAGE_CONTENT'),
      );
      const stopping = Date.now();
      await server.stop();
      const ms = Date.now() - stopping;
      assert.ok(ms < 10_000, `exited ${ms} ms after SIGTERM`);
      await running;
      const last = events[events.length - 1];
      assert.deepEqual([last.type, last.code], ['RUN_ERROR', 'STATUS.UNAVAILABLE']);
    } finally {
      await server.dispose();
    }
  });
});
