import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import {
  ModelProxy,
  ParleyProcess,
  REPO_ROOT,
  TEST_USERS,
  runInStatus,
  waitFor,
  type HttpClient,
  type ProxiedCall,
} from '@parley/testing';

/**
 * Finding 7: a transient model error failed the run at once (`attempts: 1`, one refused
 * connection), and a failed run could not be retried. Here the real openai SDK in a real Parley
 * process talks over HTTP to a proxy in front of the offline model that answers 503 / 429, drops
 * the connection, or refuses connections; the engine retries within the workflow's `retries:`,
 * records every attempt, and a failed run is retried with `POST /api/runs/:id/retry`.
 */
describe('transient model errors are retried, and a failed run can be retried (finding 7)', () => {
  let model: OfflineModelServer;
  let proxy: ModelProxy;
  let server: ParleyProcess;
  /** The process killed by the crash test (it owns the data folder the restarted one reuses). */
  let crashed: ParleyProcess | undefined;
  let workflowsDir: string;

  // Short delays so the tests run fast; the bound is the default's (3 attempts).
  const RETRIES = { attempts: 3, backoff: '20ms', maxBackoff: '200ms' };

  before(async () => {
    model = await startOfflineModelServer();
    proxy = await ModelProxy.start(model.url);
    workflowsDir = mkdtempSync(join(tmpdir(), 'parley-retry-workflows-'));
    const refundDesk = parseYaml(readFileSync(join(REPO_ROOT, 'workflows', 'refund-desk.yaml'), 'utf8'));
    writeFileSync(join(workflowsDir, 'refund-desk.yaml'), stringifyYaml({ ...refundDesk, retries: RETRIES }));
    writeFileSync(
      join(workflowsDir, 'helpdesk.yaml'),
      stringifyYaml({
        name: 'helpdesk',
        pattern: 'single-agent',
        agent: 'helper',
        agents: [{ name: 'helper', system: 'You are the helper. Answer the question.' }],
        retries: RETRIES,
      }),
    );
    // a workflow without `retries:` gets the defaults (used by the crash test below, with a cap of its own)
    copyFileSync(
      join(REPO_ROOT, 'workflows', 'content-pipeline.yaml'),
      join(workflowsDir, 'content-pipeline.yaml'),
    );
    server = await start();
  });
  after(async () => {
    await server?.dispose();
    await crashed?.dispose();
    await proxy.close();
    await model.close();
    rmSync(workflowsDir, { recursive: true, force: true });
  });

  const start = (dataDir?: string) =>
    ParleyProcess.start({
      dataDir,
      env: { OPENAI_BASE_URL: proxy.url, OPENAI_API_KEY: 'test-key', PARLEY_WORKFLOWS_DIR: workflowsDir },
    });

  type Event = { seq: number; type: string; actor: Record<string, unknown>; data: Record<string, any> };
  const eventsOf = async (api: HttpClient, runId: string): Promise<Event[]> =>
    (await api.get(`/api/runs/${runId}/events`)).body.events;
  const startRun = async (workflow: string, input: string): Promise<string> => {
    const answer = await server.client('carol').post('/api/runs', { workflow, input });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body.runId;
  };
  const retriedOf = (events: Event[]) => events.filter((e) => e.type === 'model-call.retried');

  it('503 twice: retried twice under the same call id, then answered (attempts 3)', async () => {
    proxy.failNext(2, { status: 503 });
    const runId = await startRun('helpdesk', 'What are your opening hours?');
    const run = await runInStatus(server.client(), runId, 'completed', 'failed', 'cancelled');
    assert.equal(run.status, 'completed');
    const events = await eventsOf(server.client(), runId);
    const [started] = events.filter((e) => e.type === 'model-call.started');
    const retried = retriedOf(events);
    assert.deepEqual(
      retried.map((e) => [e.data.callId, e.data.attempt, e.data.code]),
      [
        [started.data.callId, 1, 'MODEL_UNAVAILABLE'],
        [started.data.callId, 2, 'MODEL_UNAVAILABLE'],
      ],
    );
    for (const e of retried) {
      assert.match(e.data.message, /503/);
      assert.ok(e.data.delayMs >= 0 && e.data.delayMs <= 200, `delay ${e.data.delayMs} within the bounds`);
    }
    const completed = events.find((e) => e.type === 'model-call.completed')!;
    assert.equal(completed.data.callId, started.data.callId);
    assert.equal(completed.data.attempts, 3);
    assert.equal(events.filter((e) => e.type === 'model-call.started').length, 1, 'one call, three attempts');
  });

  it("429 with retry-after: the server's delay is obeyed, capped by maxBackoff", async () => {
    proxy.failNext(1, { status: 429, retryAfter: '60' });
    const runId = await startRun('helpdesk', 'Can I change my delivery address?');
    assert.equal((await runInStatus(server.client(), runId, 'completed', 'failed')).status, 'completed');
    const [retried, ...more] = retriedOf(await eventsOf(server.client(), runId));
    assert.equal(more.length, 0);
    assert.equal(retried.data.attempt, 1);
    assert.match(retried.data.message, /429/);
    assert.equal(retried.data.delayMs, 200, 'retry-after 60 s, capped at maxBackoff 200ms');
  });

  it('a dropped connection is retried too', async () => {
    const offset = proxy.calls.length;
    proxy.failNext(2, 'drop');
    const runId = await startRun('helpdesk', 'Do you ship abroad?');
    assert.equal((await runInStatus(server.client(), runId, 'completed', 'failed')).status, 'completed');
    const retried = retriedOf(await eventsOf(server.client(), runId));
    assert.deepEqual(
      retried.map((e) => e.data.attempt),
      [1, 2],
    );
    assert.deepEqual(
      proxy.calls.slice(offset).map((c) => c.fault ?? 'forwarded'),
      ['drop', 'drop', 'forwarded'],
    );
  });

  it('a model down for longer than the bound fails the run with attempts = the bound; a retry completes it', async () => {
    // finding 7's case: the connection is refused (nothing listens)
    await proxy.refuseConnections();
    let runId: string;
    try {
      runId = await startRun('helpdesk', 'Is the store open on Sunday?');
      const run = await runInStatus(server.client(), runId, 'completed', 'failed', 'cancelled');
      assert.equal(run.status, 'failed');
      assert.equal(run.failure.code, 'MODEL_CALL_FAILED');
    } finally {
      await proxy.acceptConnections();
    }
    const events = await eventsOf(server.client(), runId);
    assert.deepEqual(
      retriedOf(events).map((e) => [e.data.attempt, e.data.code]),
      [
        [1, 'MODEL_UNAVAILABLE'],
        [2, 'MODEL_UNAVAILABLE'],
      ],
    );
    const failed = events.find((e) => e.type === 'model-call.failed')!;
    assert.equal(failed.data.attempts, 3);
    assert.match(failed.data.message, /Connection error/);
    assert.deepEqual(
      events.slice(-2).map((e) => e.type),
      ['model-call.failed', 'run.failed'],
    );

    const retry = await server
      .client('carol')
      .post(`/api/runs/${runId}/retry`, { reason: 'the model is back' });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    const done = await runInStatus(server.client(), runId, 'completed', 'failed', 'cancelled');
    assert.equal(done.status, 'completed');
    const after = await eventsOf(server.client(), runId);
    const retried = after.find((e) => e.type === 'run.retried')!;
    assert.deepEqual(retried.actor, { kind: 'human', id: 'carol', role: 'requester' });
    assert.deepEqual(retried.data, {
      by: { kind: 'human', id: 'carol', role: 'requester' },
      reason: 'the model is back',
      failedCode: 'MODEL_CALL_FAILED',
    });
    assert.deepEqual(after.slice(0, events.length), events, 'nothing recorded is changed');
    assert.deepEqual(
      after.slice(events.length).map((e) => e.type),
      ['run.retried', 'model-call.started', 'model-call.completed', 'run.completed'],
    );
    const listed = (await server.client().get('/api/runs?status=completed')).body.runs;
    assert.ok(
      listed.some((r: { runId: string }) => r.runId === runId),
      'the list shows the run completed',
    );
  });

  it('a refund completed before the failure is not repeated by the retry; a participant who did not start the run may not retry', async () => {
    // The model fails for good on the call after the refund (its last message is the tool's result).
    const afterTool = (call: ProxiedCall) => call.body.messages?.at(-1)?.role === 'tool';
    proxy.failNext(Infinity, { status: 502 }, afterTool);
    let runId: string;
    try {
      runId = await startRun('refund-desk', 'Please refund $40 for order #R40, it arrived broken');
      const run = await runInStatus(server.client(), runId, 'completed', 'failed', 'cancelled');
      assert.equal(run.status, 'failed');
    } finally {
      proxy.clearFaults();
    }
    const refunds = async () => (await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds;
    assert.equal((await refunds()).length, 1, 'the refund ran before the model failed');
    const failedEvents = await eventsOf(server.client(), runId);
    assert.equal(failedEvents.find((e) => e.type === 'model-call.failed')!.data.attempts, 3);

    // maya is a participant who did not start the run: 403, nothing appended
    const refused = await server.client('maya').post(`/api/runs/${runId}/retry`, {});
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'RUN.FORBIDDEN');
    assert.equal((await eventsOf(server.client(), runId)).length, failedEvents.length);
    const bad = await server.client('carol').post(`/api/runs/${runId}/retry`, { reason: 7 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'reason');

    // an approver may retry anyone's run
    const retry = await server.client('alice').post(`/api/runs/${runId}/retry`);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal((await runInStatus(server.client(), runId, 'completed', 'failed')).status, 'completed');
    const events = await eventsOf(server.client(), runId);
    assert.equal(events.find((e) => e.type === 'run.retried')!.data.by.role, 'approver');
    assert.equal(
      events.filter((e) => e.type === 'tool-call.started' || e.type === 'tool-call.completed').length,
      2,
      'the refund ran once: one start, one result',
    );
    assert.equal((await refunds()).length, 1, 'exactly one refund in GET /api/refunds');

    // only a failed run: 409 RUN.NOT_FAILED, nothing appended
    const again = await server.client('carol').post(`/api/runs/${runId}/retry`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'RUN.NOT_FAILED');
    assert.equal((await eventsOf(server.client(), runId)).length, events.length);
    assert.equal((await server.client('carol').post('/api/runs/no-such-run/retry', {})).status, 404);
  });

  it('parley retry <runId>: the CLI retries a failed run (exit 0), a refusal exits 2 with the code', async () => {
    await proxy.refuseConnections();
    let runId: string;
    try {
      runId = await startRun('helpdesk', 'Where is my parcel?');
      assert.equal((await runInStatus(server.client(), runId, 'completed', 'failed')).status, 'failed');
    } finally {
      await proxy.acceptConnections();
    }
    const parley = (user: 'carol' | 'maya', ...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [join(REPO_ROOT, 'bin', 'parley.js'), ...args],
          {
            env: {
              ...process.env,
              PARLEY_URL: server.url,
              PARLEY_TOKEN: TEST_USERS[user].token,
              NODE_OPTIONS: '',
            },
          },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
        ),
      );
    const refused = await parley('maya', 'retry', runId);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /RUN\.FORBIDDEN, HTTP 403/);
    const retried = await parley('carol', 'retry', runId, '--reason', 'the model is back');
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`^retried ${runId}: (running|completed) at seq \\d+`));
    assert.equal((await runInStatus(server.client(), runId, 'completed', 'failed')).status, 'completed');
  });

  it('a crash during the backoff resumes the same call and keeps the bound across the restart', async () => {
    // retry-after 60 s capped at maxBackoff: a known delay (3 s for content-pipeline, which has no
    // `retries:` and so gets the defaults, 3 attempts) long enough to kill the server inside it
    const workflow = parseYaml(readFileSync(join(workflowsDir, 'content-pipeline.yaml'), 'utf8'));
    writeFileSync(
      join(workflowsDir, 'content-pipeline.yaml'),
      stringifyYaml({ ...workflow, retries: { attempts: 3, maxBackoff: '3s' } }),
    );
    await server.dispose();
    server = await start();
    const offset = proxy.calls.length;
    proxy.failNext(Infinity, { status: 429, retryAfter: '60' });
    try {
      const runId = await startRun('content-pipeline', 'Why event sourcing suits agents');
      await waitFor('the first retried attempt', async () =>
        retriedOf(await eventsOf(server.client(), runId)).length === 1 ? true : undefined,
      );
      crashed = server;
      await crashed.kill();
      server = await start(crashed.dataDir);
      const run = await runInStatus(server.client(), runId, 'completed', 'failed', 'waiting', 'cancelled');
      assert.equal(run.status, 'failed');
      const events = await eventsOf(server.client(), runId);
      const started = events.filter((e) => e.type === 'model-call.started');
      assert.equal(started.length, 1, 'recovery repeats the call under its own id');
      assert.deepEqual(
        retriedOf(events).map((e) => [e.data.callId, e.data.attempt, e.data.delayMs]),
        [
          [started[0].data.callId, 1, 3000],
          [started[0].data.callId, 2, 3000],
        ],
      );
      const failed = events.find((e) => e.type === 'model-call.failed')!;
      assert.deepEqual([failed.data.callId, failed.data.attempts], [started[0].data.callId, 3]);
      assert.equal(proxy.calls.length - offset, 3, 'three requests in all, one before the crash');
    } finally {
      proxy.clearFaults();
    }
  });
});
