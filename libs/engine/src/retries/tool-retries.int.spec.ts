import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { WorkflowSchema, type RunEvent } from '@parley/contracts';
import { SqliteEventStore } from '@parley/event-store';
import { OpenAiModelGateway } from '@parley/llm';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { waitFor } from '@parley/testing';
import { RunEngine } from '../run-engine';
import { ToolError, ToolRegistry } from '../tools/tool-registry';

/**
 * Tool calls are retried by the same engine loop as model calls: the real engine on a real SQLite
 * log, the real openai SDK against the offline model, and a tool that calls a real HTTP status
 * service which refuses connections or answers 503 / 429 / 400 for a while.
 */
describe('transient tool errors are retried with the same idempotency key (SQLite, HTTP)', () => {
  let model: OfflineModelServer;
  let status: Server;
  let statusPort: number;
  let dir: string;
  let store: SqliteEventStore;
  let engine: RunEngine;
  /** What the status service answers next (then 200), and the idempotency keys the tool was run with. */
  let faults: Array<{ status: number; retryAfter?: string }> = [];
  const keys: string[] = [];

  const workflow = WorkflowSchema.parse({
    name: 'ops-desk',
    pattern: 'single-agent',
    agent: 'ops',
    agents: [{ name: 'ops', system: 'You are the ops agent.', tools: ['check_service_status'] }],
    retries: { attempts: 3, backoff: '40ms', maxBackoff: '100ms' },
  });

  before(async () => {
    model = await startOfflineModelServer();
    status = createServer((_req, res) => {
      const fault = faults.shift();
      if (fault) {
        res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
        res.end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    await new Promise<void>((resolve) => status.listen(0, '127.0.0.1', resolve));
    statusPort = (status.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'parley-tool-retries-'));
    store = new SqliteEventStore({ dataDir: dir });
    const tools = new ToolRegistry().register({
      name: 'check_service_status',
      description: 'Read the status of a service from the status board.',
      args: z.object({ service: z.string().min(1) }),
      async execute(_args, ctx) {
        keys.push(ctx.idempotencyKey);
        // a refused connection rejects here (fetch failed, cause ECONNREFUSED): transient
        const answer = await fetch(`http://127.0.0.1:${statusPort}/status`);
        if (!answer.ok) {
          const retryAfter = answer.headers.get('retry-after');
          throw new ToolError('STATUS.UNAVAILABLE', `the status board answered ${answer.status}`, {
            transient: answer.status === 429 || answer.status >= 500,
            retryAfterMs: retryAfter ? Number(retryAfter) * 1000 : undefined,
          });
        }
        return { result: await answer.json() };
      },
    });
    engine = new RunEngine({
      store,
      tools,
      models: new OpenAiModelGateway({ defaultProvider: { baseURL: model.url, apiKey: 'test-key' } }),
      random: () => 0.5, // the jitter: half of each attempt's window
    });
  });
  after(async () => {
    await engine.stop();
    await store.close();
    await new Promise((resolve) => status.close(resolve));
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (): Promise<RunEvent[]> => {
    keys.length = 0;
    const started = await engine.start({
      workflow,
      input: 'Please check service status of the payments service',
      requestedBy: { kind: 'human', id: 'carol' },
    });
    await waitFor('the run ends', async () => {
      const state = await engine.state(started.runId);
      return state && (state.status === 'completed' || state.status === 'failed');
    });
    return (await store.read(started.runId)) as RunEvent[];
  };
  const closedPort = async (): Promise<number> => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  };
  const dataOf = (events: RunEvent[], type: string) =>
    events.filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);

  it('503 twice: two tool-call.retried facts (delays from the injected random), then the result', async () => {
    faults = [{ status: 503 }, { status: 503 }];
    const events = await run();
    const [requested] = dataOf(events, 'tool-call.requested');
    assert.deepEqual(
      dataOf(events, 'tool-call.retried').map((d) => [d.callId, d.attempt, d.code, d.delayMs]),
      [
        [requested.callId, 1, 'STATUS.UNAVAILABLE', 20],
        [requested.callId, 2, 'STATUS.UNAVAILABLE', 40],
      ],
    );
    assert.deepEqual(
      dataOf(events, 'tool-call.completed').map((d) => d.result),
      [{ status: 'ok' }],
    );
    assert.deepEqual(keys, [requested.idempotencyKey, requested.idempotencyKey, requested.idempotencyKey]);
    assert.equal(dataOf(events, 'tool-call.started').length, 1, 'one call, three attempts');
    assert.equal(events.at(-1)!.type, 'run.completed');
  });

  it('a refused connection is transient; past the bound the call fails with attempts = 3 and the agent is told', async () => {
    const port = statusPort;
    statusPort = await closedPort(); // nothing listens there: the connection is refused
    try {
      const events = await run();
      const retried = dataOf(events, 'tool-call.retried');
      assert.deepEqual(
        retried.map((d) => [d.attempt, d.code]),
        [
          [1, 'TOOL.FAILED'],
          [2, 'TOOL.FAILED'],
        ],
      );
      const [failed] = dataOf(events, 'tool-call.failed');
      assert.equal(failed.attempts, 3);
      assert.match(String(failed.message), /fetch failed/);
      assert.equal(
        events.at(-1)!.type,
        'run.completed',
        'a tool failure is reported to the agent, as before',
      );
    } finally {
      statusPort = port;
    }
  });

  it('429 with retry-after is capped by maxBackoff; a 400 is not retried', async () => {
    faults = [{ status: 429, retryAfter: '30' }, { status: 400 }];
    const events = await run();
    assert.deepEqual(
      dataOf(events, 'tool-call.retried').map((d) => [d.attempt, d.delayMs]),
      [[1, 100]],
    );
    const [failed] = dataOf(events, 'tool-call.failed');
    assert.deepEqual([failed.code, failed.attempts], ['STATUS.UNAVAILABLE', 2]);
    assert.equal(keys.length, 2);
  });
});
