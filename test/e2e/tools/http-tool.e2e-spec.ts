import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, waitFor } from '@parley/testing';
import { events, startRun, typesOf, waitForStatus } from '../patterns/helpers';
import { TicketService } from './ticket-service';
import { writeToolsFile } from './tools-kit';

const WORKFLOWS = join(REPO_ROOT, 'test/fixtures/tools-http');
const INPUT = 'call tickets__open {"title": "Printer on fire"}';

/**
 * An HTTP tool from the tools file against a real local service that counts requests and keys: the
 * call carries its Parley idempotency key, the secret header reaches the service and never the log,
 * and a SIGKILL between `tool-call.started` and its result is followed, after the restart, by the
 * same call with the same key: one effect.
 */
describe('HTTP tools', () => {
  let service: TicketService;
  let toolsFile: string;
  before(async () => {
    service = await TicketService.start();
    toolsFile = writeToolsFile({
      http: [
        {
          name: 'tickets.open',
          description: 'Open a ticket',
          method: 'POST',
          url: `${service.url}/tickets`,
          headers: { authorization: 'Bearer ${env:PARLEY_TEST_TICKETS_TOKEN}' },
          input: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
          idempotent: true,
        },
        {
          name: 'tickets.reopen',
          description: 'Reopen a ticket',
          method: 'POST',
          url: `${service.url}/fail/{id}`,
          input: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        },
      ],
    });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('a call sends the idempotency key and the header; its answer is the result; the secret is not logged', async () => {
    const server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: WORKFLOWS,
        PARLEY_TEST_TICKETS_TOKEN: 's3cret-token',
      },
    });
    try {
      const carol = server.client('carol');
      const from = service.requests.length;
      const runId = await startRun(carol, 'ticket-desk', INPUT);
      await waitForStatus(carol, runId, 'completed', 30_000);
      const log = await events(carol, runId);
      const requested = log.find((e) => e.type === 'tool-call.requested')!;
      const sent = service.requests.slice(from);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].key, requested.data.idempotencyKey);
      assert.equal(sent[0].authorization, 'Bearer s3cret-token');
      assert.deepEqual(sent[0].body, { title: 'Printer on fire' });
      const ticket = service.tickets.get(sent[0].key!);
      assert.deepEqual(log.find((e) => e.type === 'tool-call.completed')?.data.result, ticket);
      assert.ok(!JSON.stringify(log).includes('s3cret-token'), 'the header value is not in the log');
      assert.ok(!server.output.join('').includes('s3cret-token'), 'nor in the server log');
    } finally {
      await server.dispose();
    }
  });

  it('a non-2xx answer is a recorded tool error; URL arguments are URL-encoded', async () => {
    const server = await ParleyProcess.start({
      env: { PARLEY_TOOLS_FILE: toolsFile, PARLEY_WORKFLOWS_DIR: WORKFLOWS, PARLEY_TEST_TICKETS_TOKEN: 't' },
    });
    try {
      const carol = server.client('carol');
      const from = service.requests.length;
      const runId = await startRun(carol, 'ticket-desk', 'call tickets__reopen {"id": "T 1/2"}');
      await waitForStatus(carol, runId, 'completed', 30_000);
      const failed = (await events(carol, runId)).find((e) => e.type === 'tool-call.failed');
      assert.equal(failed?.data.code, 'TOOL.HTTP_422');
      assert.match(failed?.data.message, /^tickets\.reopen: HTTP 422: \{"error":"title is taken"\}/);
      assert.deepEqual(
        service.requests.slice(from).map((r) => r.url),
        ['/fail/T%201%2F2'],
      );
    } finally {
      await server.dispose();
    }
  });

  it('SIGKILL between tool-call.started and its result: after the restart, the same key again, one effect', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-e2e-'));
    const env = {
      PARLEY_TOOLS_FILE: toolsFile,
      PARLEY_WORKFLOWS_DIR: WORKFLOWS,
      PARLEY_TEST_TICKETS_TOKEN: 't',
    };
    // after-tool: the process kills itself once the service has answered, before the result is appended
    const crashing = await ParleyProcess.start({
      dataDir,
      env: { ...env, PARLEY_CHAOS_CRASH_POINTS: 'after-tool', PARLEY_CHAOS_CRASH_PROBABILITY: '1' },
    });
    const from = service.requests.length;
    const ticketsBefore = service.tickets.size;
    const runId = await startRun(crashing.client('carol'), 'ticket-desk', INPUT);
    await waitFor(
      'the server to kill itself after the tool call',
      async () => crashing.child.exitCode !== null || crashing.child.signalCode !== null,
      { timeoutMs: 30_000 },
    );
    assert.equal(crashing.child.signalCode, 'SIGKILL');
    assert.equal(service.requests.length - from, 1, 'the service was called once before the crash');

    const restarted = await ParleyProcess.start({ dataDir, env });
    try {
      const carol = restarted.client('carol');
      await waitForStatus(carol, runId, 'completed', 30_000);
      const log = await events(carol, runId);
      const sent = service.requests.slice(from);
      assert.equal(sent.length, 2, 'called again after the restart');
      assert.equal(sent[0].key, sent[1].key, 'with the same idempotency key');
      assert.equal(sent[0].key, log.find((e) => e.type === 'tool-call.requested')?.data.idempotencyKey);
      assert.equal(service.tickets.size - ticketsBefore, 1, 'one effect');
      assert.equal(typesOf(log).filter((t) => t === 'tool-call.started').length, 1);
      assert.equal(typesOf(log).filter((t) => t === 'tool-call.completed').length, 1);
      assert.ok(!typesOf(log).includes('human-request.opened'), 'an idempotent tool is not put to a human');
    } finally {
      await restarted.dispose();
    }
  });
});
