import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ParleyProcess, runInStatus, waitFor } from '@parley/testing';

/** Structured outputs are validated with zod; an invalid one is asked again a bounded number of times. */
describe('model output validation and failures (real openai SDK against the offline model over HTTP)', () => {
  let model: OfflineModelServer;
  let server: ParleyProcess;

  before(async () => {
    model = await startOfflineModelServer();
    server = await ParleyProcess.start({ env: { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'test-key' } });
  });
  after(async () => {
    await server.dispose();
    await model.close();
  });

  it('retries an invalid structured output and records how many attempts it took', async () => {
    model.injectFaults({ invalidStructuredOutputs: 2 });
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'press-release-auto', input: 'Announce the new console' });
    const run = await runInStatus(server.client(), body.runId, 'completed', 'failed', 'cancelled');
    assert.equal(run.status, 'completed');
    const events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events as Array<{
      type: string;
      data: { purpose?: string; attempts?: number; structured?: { verdict: string } };
    }>;
    const checks = events.filter((e) => e.type === 'model-call.completed' && e.data.purpose === 'check');
    assert.deepEqual(
      checks.map((c) => [c.data.attempts, c.data.structured?.verdict]),
      [
        [3, 'revise'],
        [1, 'approve'],
      ],
    );
  });

  it('records a failure event and fails the run when the output stays invalid', async () => {
    model.injectFaults({ invalidStructuredOutputs: 3 });
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'press-release-auto', input: 'Announce the new CLI' });
    const run = await runInStatus(server.client(), body.runId, 'completed', 'failed', 'cancelled');
    assert.equal(run.status, 'failed');
    assert.equal(run.failure.code, 'MODEL_CALL_FAILED');
    const events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events as Array<{
      type: string;
      data: { code?: string; attempts?: number };
    }>;
    const failed = events.find((e) => e.type === 'model-call.failed')!;
    assert.equal(failed.data.code, 'MODEL_OUTPUT_INVALID');
    assert.equal(failed.data.attempts, 3);
    assert.deepEqual(
      events.slice(-2).map((e) => e.type),
      ['model-call.failed', 'run.failed'],
    );
  });

  it('records an unavailable model as a failure, not a crash', async () => {
    model.injectFaults({ httpErrors: 10 });
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'content-pipeline', input: 'A short note' });
    const run = await runInStatus(server.client(), body.runId, 'completed', 'failed', 'cancelled');
    model.injectFaults({ httpErrors: 0 });
    assert.equal(run.status, 'failed');
    const events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events as Array<{
      type: string;
      data: { code?: string };
    }>;
    assert.equal(events.find((e) => e.type === 'model-call.failed')!.data.code, 'MODEL_UNAVAILABLE');
    assert.equal((await server.client().get('/health')).body.status, 'ok');
  });

  it('streams tokens live but stores only the final message', async () => {
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'content-pipeline', input: 'Tokens' });
    await waitFor(
      'the review',
      async () => (await server.client().get(`/api/runs/${body.runId}`)).body.status === 'waiting',
    );
    const events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events as Array<{
      type: string;
    }>;
    assert.deepEqual(
      events.map((e) => e.type),
      ['run.started', 'model-call.started', 'model-call.completed', 'human-request.opened'],
    );
  });
});
