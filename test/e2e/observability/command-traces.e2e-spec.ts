import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, runInStatus, waitFor } from '@parley/testing';
import { ask, connect } from '../realtime/socket-client';
import { dropCluster, ownerOf, startCluster } from '../cluster/cluster-helpers';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';

/**
 * W3C trace context on the commands: a socket.io decision carrying a traceparent is handled under
 * a SERVER span that is the caller's child, its ack names that span, and the span links to the
 * human request's span (which links back); a decision sent to an instance that does not own the
 * run is run by the owner under a `routed` span whose parent is the caller's; and the engine's
 * JSON log lines about a run carry its runId and its traceId.
 */
describe('trace context of commands: socket.io, Kafka routing, log lines', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(async () => {
    await receiver?.close();
  });

  const env = () => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'parley-e2e',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  const newTraceparent = () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
  };
  const spanNamed = (name: string, pick: (s: ReceivedSpan) => boolean, timeoutMs = 20_000) =>
    waitFor(`the span ${name}`, () => receiver.spans.find((s) => s.name === name && pick(s)), {
      timeoutMs,
    });

  it('socket.io: the decision span is the caller’s child, its ack names it, it links to the run; engine lines carry runId and traceId', async () => {
    // JSON lines (PARLEY_LOG_FORMAT blank: the server decides, stdout is a pipe) with tracing on
    const server = await ParleyProcess.start({ env: { ...env(), PARLEY_LOG_FORMAT: '' } });
    let runId = '';
    let runTrace: { traceId: string; spanId: string } | undefined;
    try {
      const carol = server.client('carol');
      const started = await carol.post('/api/runs', {
        workflow: 'refund-desk',
        input: 'Please refund $250 for order #B777, it never arrived',
      });
      assert.equal(started.status, 201);
      runId = started.body.runId;
      const [request] = (await runInStatus(carol, runId, 'waiting')).pendingRequests;
      const events = (await carol.get(`/api/runs/${runId}/events`)).body.events;
      runTrace = events[0].data.trace;
      assert.ok(runTrace, 'run.started records the trace context');

      // a refusal carries its span's traceparent too
      const refused = newTraceparent();
      const carolSocket = await connect(server, 'carol');
      const byCarol = await ask(carolSocket, 'request:decide', {
        requestId: request.id,
        decision: 'approve',
        traceparent: refused.traceparent,
      });
      carolSocket.close();
      assert.equal(byCarol.ok, false);
      assert.equal(byCarol.error.code, 'REQUEST.FORBIDDEN');
      assert.match(
        (byCarol as unknown as { traceparent: string }).traceparent,
        new RegExp(`^00-${refused.traceId}-[0-9a-f]{16}-01$`),
      );

      const caller = newTraceparent();
      const alice = await connect(server, 'alice');
      const decided = await ask(alice, 'request:decide', {
        requestId: request.id,
        decision: 'approve',
        comment: 'entitled',
        traceparent: caller.traceparent,
        tracestate: 'vendor=abc',
      });
      alice.close();
      assert.equal(decided.ok, true, JSON.stringify(decided));
      assert.equal(decided.status, 'resolved');
      const ackParent = (decided as unknown as { traceparent?: string }).traceparent ?? '';
      const [, ackTrace, ackSpan] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(ackParent) ?? [];
      assert.equal(ackTrace, caller.traceId, `the ack's traceparent ${ackParent} is in the caller's trace`);
      await runInStatus(carol, runId, 'completed');

      const socketSpan = await spanNamed('socket.io request:decide', (s) => s.traceId === caller.traceId);
      assert.equal(socketSpan.spanId, ackSpan, 'the ack names the server span');
      assert.equal(socketSpan.parentSpanId, caller.spanId, 'the server span is the caller’s child');
      assert.equal(socketSpan.kind, 2, 'SERVER');
      assert.equal(socketSpan.attributes['parley.socket.event'], 'request:decide');
      assert.equal(socketSpan.attributes['parley.command'], 'request.decide');
      assert.equal(socketSpan.attributes['parley.run.id'], runId);
      assert.equal(socketSpan.attributes['parley.request.id'], request.id);

      // findable from either side: the decision links to the request's span, and the request's span back
      const approval = await spanNamed(
        'parley.human_request approval',
        (s) => s.attributes['parley.request.id'] === request.id,
      );
      assert.equal(approval.traceId, runTrace!.traceId);
      assert.deepEqual(
        socketSpan.links.map((l) => [l.traceId, l.spanId, l.attributes['parley.link']]),
        [[runTrace!.traceId, approval.spanId, 'human_request']],
      );
      // the commands that acted on the request, refused or not, in their callers' traces
      const refusedSpan = await spanNamed('socket.io request:decide', (s) => s.traceId === refused.traceId);
      assert.equal(refusedSpan.attributes['parley.error.code'], 'REQUEST.FORBIDDEN');
      assert.deepEqual(
        approval.links.map((l) => [l.traceId, l.spanId, l.attributes['parley.link']]),
        [
          [refused.traceId, refusedSpan.spanId, 'command'],
          [caller.traceId, socketSpan.spanId, 'command'],
        ],
        'the request’s span links to the decisions sent on it',
      );
      await waitFor('the run’s last engine line', () =>
        server.output.join('').includes(`"msg":"run ${runId}: completed`),
      );
    } finally {
      await server.stop();
    }

    const lines = server.output
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const engine = lines.filter((l) => l.context === 'Engine' && String(l.msg).includes(runId));
    assert.ok(engine.length >= 3, `the engine's lines about the run: ${JSON.stringify(engine)}`);
    assert.ok(engine.some((l) => /: started \(workflow refund-desk\)/.test(String(l.msg))));
    assert.ok(engine.some((l) => /: waiting at seq \d+/.test(String(l.msg))));
    assert.ok(engine.some((l) => /: completed at seq \d+/.test(String(l.msg))));
    for (const line of engine) {
      assert.equal(line.runId, runId, JSON.stringify(line));
      assert.equal(line.traceId, runTrace!.traceId, JSON.stringify(line));
      assert.equal(line.spanId, runTrace!.spanId, JSON.stringify(line));
    }
    // every line about the run says which run (the decision's request line by its request's run)
    const aboutRun = lines.filter((l) => JSON.stringify(l).includes(runId));
    for (const line of aboutRun) assert.equal(line.runId, runId, JSON.stringify(line));
  });

  it('Kafka: a decision sent to the non-owner runs on the owner under the caller’s trace', async () => {
    const { prefix, instances } = await startCluster(2, env());
    try {
      const started = await instances[0].client('carol').post('/api/runs', {
        workflow: 'refund-desk',
        input: 'Please refund $250 for order #B777, it never arrived',
      });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const runId: string = started.body.runId;
      const owner = await ownerOf(instances, runId);
      const other = instances.find((i) => i !== owner)!;
      const [request] = (await runInStatus(other.client('alice'), runId, 'waiting')).pendingRequests;
      const ids = await Promise.all(
        instances.map(async (i) => (await i.client('victor').get('/api/cluster')).body.instanceId as string),
      );
      const [ownerId, otherId] = instances[0] === owner ? ids : [ids[1], ids[0]];

      const caller = newTraceparent();
      const decided = await other
        .client('alice')
        .post(
          `/api/requests/${request.id}/decision`,
          { decision: 'approve' },
          { traceparent: caller.traceparent },
        );
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      await runInStatus(owner.client('carol'), runId, 'completed');

      const rest = await spanNamed('POST /api/requests/:id/decision', (s) => s.traceId === caller.traceId);
      assert.equal(rest.instance, otherId, 'the caller’s side is the non-owner’s');
      assert.equal(rest.parentSpanId, caller.spanId);
      const routed = await spanNamed('routed request.decide', (s) => s.traceId === caller.traceId);
      assert.equal(routed.instance, ownerId, 'exported by the owner');
      assert.equal(routed.parentSpanId, rest.spanId, 'under the caller’s span, across Kafka');
      assert.equal(routed.kind, 2, 'SERVER');
      assert.equal(routed.attributes['parley.run.id'], runId);
      assert.equal(routed.attributes['parley.cluster.from'] !== undefined, true);
      const approval = await spanNamed(
        'parley.human_request approval',
        (s) => s.attributes['parley.request.id'] === request.id,
      );
      assert.equal(approval.instance, ownerId);
      assert.ok(
        routed.links.some((l) => l.spanId === approval.spanId),
        'the routed span links to the request’s span',
      );
      assert.ok(
        approval.links.some((l) => l.spanId === routed.spanId && l.traceId === caller.traceId),
        'the request’s span links to the routed decision',
      );
    } finally {
      await Promise.all(instances.map((i) => i.dispose()));
      await dropCluster(prefix);
    }
  });
});
