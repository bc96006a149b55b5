import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, runInStatus, waitFor } from '@parley/testing';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';

/**
 * A run that waits for an approval, whose server is SIGKILLed and restarted on the same data,
 * exported by the OpenTelemetry SDK to a real OTLP/HTTP endpoint: one trace, under the caller's
 * traceparent, with invoke_workflow → invoke_agent → chat / execute_tool and the human request
 * span with its decider, the parents right across the two processes.
 */
describe('OpenTelemetry traces of a run across a SIGKILL and a restart', () => {
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
    OTEL_BSP_SCHEDULE_DELAY: '100', // the SDK's own batching setting: export soon, the test waits less
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
  });

  it('is one trace with the spans, parents and attributes the log says', async () => {
    const callerTrace = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const first = await ParleyProcess.start({ env: env() });
    let second: ParleyProcess | undefined;
    try {
      const started = await first
        .client('carol')
        .post(
          '/api/runs',
          { workflow: 'refund-desk', input: 'Please refund $250 for order #B777, it never arrived' },
          { traceparent: `00-${callerTrace}-${callerSpan}-01` },
        );
      assert.equal(started.status, 201);
      const runId: string = started.body.runId;
      const answered = started.headers.get('traceparent');
      assert.match(
        answered ?? '',
        new RegExp(`^00-${callerTrace}-[0-9a-f]{16}-01$`),
        'the answer names its span',
      );
      const [request] = (await runInStatus(first.client('carol'), runId, 'waiting')).pendingRequests;
      // the first model call (which asked for the refund) is exported by the first process
      await waitFor('the first chat span', () =>
        receiver.spans.some((s) => s.traceId === callerTrace && s.name.startsWith('chat ')),
      );
      const beforeKill = receiver.spans.filter((s) => s.traceId === callerTrace).length;
      await first.kill();

      second = await ParleyProcess.start({ dataDir: first.dataDir, env: env() });
      const decided = await second.client('alice').post(`/api/requests/${request.id}/decision`, {
        decision: 'approve',
        comment: 'entitled',
      });
      assert.equal(decided.status, 200);
      await runInStatus(second.client('carol'), runId, 'completed');
      const events: Array<{ type: string; data: any; at: string }> = (
        await second.client('carol').get(`/api/runs/${runId}/events`)
      ).body.events;
      const runTrace = events[0].data.trace;
      assert.equal(runTrace.traceId, callerTrace, 'run.started keeps the trace context');

      const spans = await waitFor(
        'the invoke_workflow span',
        () => {
          // the run's own spans (a command's SERVER span names the run too, in its caller's trace)
          const mine = receiver.spans.filter(
            (s) => (s.attributes['parley.run.id'] === runId && s.kind !== 2) || s.traceId === callerTrace,
          );
          return mine.some((s) => s.name.startsWith('invoke_workflow')) && mine;
        },
        { timeoutMs: 20_000 },
      );
      assert.ok(beforeKill > 0 && spans.length > beforeKill, 'spans from both processes');
      for (const s of spans) assert.equal(s.traceId, callerTrace, `${s.name} is in the caller's trace`);
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
      const named = (prefix: string): ReceivedSpan[] => spans.filter((s) => s.name.startsWith(prefix));
      const byId = new Map(spans.map((s) => [s.spanId, s]));

      // the first process's HTTP span is the run's parent; the caller's span is the HTTP span's
      const [post] = spans.filter((s) => s.name === 'POST /api/runs');
      assert.ok(post, 'the POST /api/runs server span');
      assert.equal(post.parentSpanId, callerSpan);
      assert.equal(post.kind, 2, 'SERVER');
      const [workflow] = named('invoke_workflow');
      assert.equal(workflow.name, 'invoke_workflow refund-desk');
      assert.equal(workflow.spanId, runTrace.spanId);
      assert.equal(workflow.parentSpanId, post.spanId);
      assert.equal(workflow.attributes['gen_ai.operation.name'], 'invoke_workflow');
      assert.equal(workflow.attributes['parley.run.status'], 'completed');
      assert.equal(workflow.service, 'parley-e2e');
      assert.equal(BigInt(workflow.startTimeUnixNano) / 1_000_000n, BigInt(Date.parse(events[0].at)));
      assert.equal(BigInt(workflow.endTimeUnixNano) / 1_000_000n, BigInt(Date.parse(events.at(-1)!.at)));

      // one agent turn (single agent: ask, tool, answer), under the workflow
      const turns = named('invoke_agent');
      assert.equal(turns.length, 1, turns.map((t) => t.name).join());
      const [turn] = turns;
      assert.equal(turn.name, 'invoke_agent refund-agent');
      assert.equal(turn.parentSpanId, workflow.spanId);
      assert.equal(turn.attributes['gen_ai.agent.name'], 'refund-agent');

      // every model call is a chat span under the turn, with its model and usage as logged
      const completions = events.filter((e) => e.type === 'model-call.completed');
      const chats = named('chat ');
      assert.equal(chats.length, completions.length);
      for (const completion of completions) {
        const chat = chats.find((c) => c.attributes['parley.model_call.id'] === completion.data.callId);
        assert.ok(chat, `a chat span for ${completion.data.callId}`);
        assert.equal(chat.parentSpanId, turn.spanId);
        assert.equal(chat.name, 'chat offline');
        assert.equal(chat.attributes['gen_ai.operation.name'], 'chat');
        assert.equal(chat.attributes['gen_ai.request.model'], 'offline');
        assert.equal(chat.attributes['gen_ai.usage.input_tokens'], completion.data.usage.promptTokens);
        assert.equal(chat.attributes['gen_ai.usage.output_tokens'], completion.data.usage.completionTokens);
      }
      const tokens = completions.reduce((n, e) => n + e.data.usage.promptTokens, 0);
      assert.equal(turn.attributes['gen_ai.usage.input_tokens'], tokens);

      // the refund ran on the second process: its span is under the same turn
      const refundCall = events.find(
        (e) => e.type === 'tool-call.requested' && e.data.tool === 'process_refund',
      )!;
      const [refund] = named('execute_tool process_refund');
      assert.ok(refund, 'the execute_tool span');
      assert.equal(refund.parentSpanId, turn.spanId);
      assert.equal(refund.attributes['gen_ai.tool.name'], 'process_refund');
      assert.equal(refund.attributes['gen_ai.tool.call.id'], refundCall.data.callId);
      assert.deepEqual(
        JSON.parse(String(refund.attributes['gen_ai.tool.call.arguments'])),
        refundCall.data.args,
      );
      assert.ok(String(refund.attributes['gen_ai.tool.call.result']).includes('250'));

      // the human approval: opened on the first process, decided on the second
      const [approval] = named('parley.human_request');
      assert.ok(approval, 'the human request span');
      assert.equal(approval.name, 'parley.human_request approval');
      assert.equal(
        approval.parentSpanId,
        turn.spanId,
        'the gate belongs to the turn that asked for the tool',
      );
      assert.equal(approval.attributes['parley.request.id'], request.id);
      assert.equal(approval.attributes['parley.request.kind'], 'approval');
      assert.deepEqual(approval.attributes['parley.request.roles'], ['approver']);
      assert.deepEqual(approval.attributes['parley.request.deciders'], ['alice']);
      assert.equal(approval.attributes['parley.request.outcome'], 'approve');
      assert.equal(approval.attributes['parley.request.payload_hash'], request.payloadHash);
      const opened = events.find((e) => e.type === 'human-request.opened')!;
      const resolved = events.find((e) => e.type === 'human-request.resolved')!;
      assert.equal(BigInt(approval.startTimeUnixNano) / 1_000_000n, BigInt(Date.parse(opened.at)));
      assert.equal(BigInt(approval.endTimeUnixNano) / 1_000_000n, BigInt(Date.parse(resolved.at)));

      // the decision came without a traceparent (a trace of its own): its span and the approval's link
      const decision = receiver.spans.find(
        (s) =>
          s.name === 'POST /api/requests/:id/decision' && s.attributes['parley.request.id'] === request.id,
      );
      assert.ok(decision, 'the decision request span');
      assert.notEqual(decision.traceId, callerTrace);
      assert.deepEqual(
        decision.links.map((l) => [l.traceId, l.spanId]),
        [[callerTrace, approval.spanId]],
      );
      assert.deepEqual(
        approval.links.map((l) => [l.traceId, l.spanId]),
        [[decision.traceId, decision.spanId]],
      );

      // every run span's parent is in the trace (or is the caller's own span)
      for (const s of spans)
        if (s !== post)
          assert.ok(byId.has(s.parentSpanId!), `${s.name}'s parent ${s.parentSpanId} is exported`);
    } finally {
      await second?.dispose();
      await first.dispose();
    }
  });

  it('exports nothing and records no trace context with the OTEL endpoint unset', async () => {
    const server = await ParleyProcess.start();
    try {
      const before = receiver.exports;
      const started = await server
        .client('carol')
        .post('/api/runs', { workflow: 'refund-desk', input: 'Refund $20 for #A1' });
      const runId = started.body.runId;
      assert.equal(started.headers.get('traceparent'), null);
      await runInStatus(server.client('carol'), runId, 'completed', 'waiting');
      const events = (await server.client('carol').get(`/api/runs/${runId}/events`)).body.events;
      assert.equal(events[0].data.trace, undefined);
      assert.equal(receiver.exports, before);
    } finally {
      await server.dispose();
    }
  });
});
