import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, runInStatus, waitFor } from '@parley/testing';
import { TicketService } from '../tools/ticket-service';
import { writeToolsFile } from '../tools/tools-kit';
import { OtlpReceiver } from './otlp-receiver';

/**
 * An HTTP tool call carries W3C trace context to the service it calls: the `traceparent` names the
 * call's own `execute_tool` span in the run's trace (so the service's spans are its children), and
 * that span is what the OTLP endpoint receives. With tracing off, no `traceparent` is sent.
 */
describe('trace context to HTTP tools', () => {
  let service: TicketService;
  let receiver: OtlpReceiver;
  let toolsFile: string;
  before(async () => {
    service = await TicketService.start();
    receiver = await OtlpReceiver.start();
    toolsFile = writeToolsFile({
      http: [
        {
          name: 'tickets.open',
          description: 'Open a ticket',
          method: 'POST',
          url: `${service.url}/tickets`,
          input: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
          idempotent: true,
        },
        {
          name: 'tickets.reopen', // the fixture workflow names it too
          description: 'Reopen a ticket',
          method: 'POST',
          url: `${service.url}/fail/{id}`,
          input: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        },
      ],
    });
  });
  after(async () => {
    await receiver?.close();
    await service?.stop();
  });

  const run = async (env: Record<string, string>) => {
    const server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'test/fixtures/tools-http'),
        ...env,
      },
    });
    try {
      const carol = server.client('carol');
      const from = service.requests.length;
      const started = await carol.post('/api/runs', {
        workflow: 'ticket-desk',
        input: 'call tickets__open {"title": "Printer on fire"}',
      });
      assert.equal(started.status, 201);
      await runInStatus(carol, started.body.runId, 'completed');
      const events = (await carol.get(`/api/runs/${started.body.runId}/events`)).body.events;
      const sent = service.requests.slice(from);
      assert.equal(sent.length, 1);
      return { runId: started.body.runId as string, events, sent: sent[0] };
    } finally {
      await server.dispose();
    }
  };

  it('tracing on: the call sends the traceparent of its execute_tool span', async () => {
    const { runId, events, sent } = await run({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const trace = events[0].data.trace;
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(sent.traceparent ?? '');
    assert.ok(match, `a traceparent was sent: ${sent.traceparent}`);
    assert.equal(match[1], trace.traceId, "in the run's trace");
    const call = events.find((e: { type: string }) => e.type === 'tool-call.requested');
    const span = await waitFor('the execute_tool span', () =>
      receiver.spans.find(
        (s) => s.traceId === trace.traceId && s.attributes['gen_ai.tool.call.id'] === call.data.callId,
      ),
    );
    assert.equal(span.name, 'execute_tool tickets.open');
    assert.equal(span.spanId, match[2], "the traceparent names the call's span");
    assert.ok(
      receiver.spans.some((s) => s.spanId === span.parentSpanId),
      'whose parent is exported',
    );
    assert.ok(runId);
  });

  it('tracing off: no traceparent is sent', async () => {
    const { sent } = await run({});
    assert.equal(sent.traceparent, undefined);
  });
});
