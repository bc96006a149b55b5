import assert from 'node:assert/strict';
import { DECISIONS } from '@parley/contracts';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, waitFor } from '@parley/testing';
import { assertError, events, startRun, waitForStatus } from './helpers';

/** The runs API at its edges: bad input, roles, idempotency, filters, NDJSON, OpenAPI. */
describe('runs API: bad input, idempotency, filters, NDJSON, OpenAPI', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const runCount = async (): Promise<number> => (await server.client('admin').get('/api/runs')).body.total;

  it('refuses bad starts with coded errors and starts nothing', async () => {
    const alice = server.client('alice');
    const before = await runCount();
    const unknown = await alice.post('/api/runs', { workflow: 'no-such-workflow', input: 'hello' });
    assertError(unknown, 404, 'WORKFLOW.NOT_FOUND');
    assert.match(unknown.body.error.message, /content-pipeline/, 'the message lists the known workflows');
    assertError(
      await alice.post('/api/runs', { workflow: 'content-pipeline' }),
      400,
      'REQUEST.INVALID_BODY',
      'input',
    );
    assertError(
      await alice.post('/api/runs', { workflow: 'content-pipeline', input: '' }),
      400,
      'REQUEST.INVALID_BODY',
      'input',
    );
    assertError(await alice.post('/api/runs', { input: 'hello' }), 400, 'REQUEST.INVALID_BODY', 'workflow');
    assertError(
      await alice.post('/api/runs', { workflow: 'content-pipeline', input: 'x', colour: 'red' }),
      400,
      'REQUEST.INVALID_BODY',
    );
    const malformed = await alice.post('/api/runs', '{"workflow": "content-pipeline", "input": ');
    assert.equal(malformed.status, 400, JSON.stringify(malformed.body));
    assert.equal(malformed.body.error.code, 'REQUEST.INVALID_JSON');
    assertError(
      await server
        .client('alice')
        .as(undefined)
        .post('/api/runs', { workflow: 'content-pipeline', input: 'x' }),
      401,
      'AUTH.MISSING_TOKEN',
    );
    assertError(
      await alice
        .as('not-a-valid-token-at-all')
        .post('/api/runs', { workflow: 'content-pipeline', input: 'x' }),
      401,
      'AUTH.INVALID_TOKEN',
    );
    assertError(
      await server.client('victor').post('/api/runs', { workflow: 'content-pipeline', input: 'x' }),
      403,
      'AUTH.ROLE_REQUIRED',
    );
    assertError(await alice.get('/api/runs/no-such-run'), 404, 'RUN.NOT_FOUND');
    assertError(await alice.get('/api/runs/no-such-run/events'), 404, 'RUN.NOT_FOUND');
    assert.equal(await runCount(), before, 'no run was started');
  });

  it('the same idempotency key returns the same run; another key starts another run', async () => {
    const carol = server.client('carol');
    const body = {
      workflow: 'content-pipeline',
      input: 'Write about night trains',
      idempotencyKey: 'carol-night-trains-1',
    };
    const first = await carol.post('/api/runs', body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await carol.post('/api/runs', body);
    assert.equal(again.status, 200);
    assert.equal(again.body.runId, first.body.runId);
    const other = await carol.post('/api/runs', { ...body, idempotencyKey: 'carol-night-trains-2' });
    assert.equal(other.status, 201);
    assert.notEqual(other.body.runId, first.body.runId);
    // The key is per human: another human's same key is another run.
    const maya = await server.client('maya').post('/api/runs', body);
    assert.equal(maya.status, 201);
    assert.notEqual(maya.body.runId, first.body.runId);
    const log = await events(carol, first.body.runId);
    assert.equal(log.filter((e) => e.type === 'run.started').length, 1);
    assert.equal(log[0].data.idempotencyKey, 'carol-night-trains-1');
  });

  it('lists runs filtered by status and workflow', async () => {
    const alice = server.client('alice');
    const waiting = await startRun(alice, 'content-pipeline', 'Write about tram networks');
    const completed = await startRun(alice, 'press-release-auto', 'We launch Parley 1.0');
    const otherWorkflow = await startRun(alice, 'press-release', 'We open an office in Porto');
    await waitForStatus(alice, waiting, 'waiting');
    await waitForStatus(alice, completed, 'completed');
    await waitForStatus(alice, otherWorkflow, 'waiting');
    const list = await waitFor('the read model to list the waiting run', async () => {
      const answer = await alice.get('/api/runs?status=waiting&workflow=content-pipeline');
      assert.equal(answer.status, 200);
      return answer.body.runs.some((r: { runId: string }) => r.runId === waiting) && answer.body.runs;
    });
    assert.ok(list.length >= 1);
    for (const r of list)
      assert.deepEqual([r.status, r.workflow, r.pattern], ['waiting', 'content-pipeline', 'sequential']);
    assert.ok(!list.some((r: { runId: string }) => r.runId === otherWorkflow));
    const done = await waitFor('the completed run to be listed', async () => {
      const runs = (await alice.get('/api/runs?status=completed')).body.runs as Array<{
        runId: string;
        status: string;
      }>;
      return runs.some((r) => r.runId === completed) && runs;
    });
    assert.ok(done.every((r) => r.status === 'completed'));
    assert.ok(!done.some((r) => r.runId === waiting));
    const byWorkflow = (await alice.get('/api/runs?workflow=press-release')).body.runs as Array<{
      runId: string;
      workflow: string;
    }>;
    assert.ok(byWorkflow.every((r) => r.workflow === 'press-release'));
    assert.ok(byWorkflow.some((r) => r.runId === otherWorkflow));
    assertError(await alice.get('/api/runs?status=sleeping'), 400, 'REQUEST.INVALID_QUERY', 'status');
    assertError(await server.client('alice').as(undefined).get('/api/runs'), 401, 'AUTH.MISSING_TOKEN');
    assert.equal((await server.client('victor').get('/api/runs')).status, 200, 'viewers may read');
  });

  it('serves the events as NDJSON: one envelope per line, seq 1..N, the same as the JSON answer', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'press-release-auto', 'We launch Parley 2.0');
    await waitForStatus(alice, runId, 'completed');
    const json = await events(alice, runId);
    const answer = await server
      .client('victor')
      .get(`/api/runs/${runId}/events`, { accept: 'application/x-ndjson' });
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const text = answer.body as string;
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n');
    const parsed = lines.map((line) => JSON.parse(line));
    assert.deepEqual(
      parsed.map((e) => e.seq),
      json.map((_, i) => i + 1),
    );
    assert.deepEqual(parsed, json);
    for (const e of parsed) assert.equal(e.runId, runId);
    // The hash chain links each envelope to the previous one.
    for (let i = 1; i < parsed.length; i++) assert.equal(parsed[i].prevHash, parsed[i - 1].hash);
  });

  it('serves the OpenAPI document at /docs-json and its UI at /docs', async () => {
    const anonymous = server.client('alice').as(undefined);
    const ui = await anonymous.get('/docs');
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-type') ?? '', /text\/html/);
    assert.match(String(ui.body), /swagger/i);
    const doc = await anonymous.get('/docs-json');
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const path of [
      '/api/runs',
      '/api/runs/{runId}',
      '/api/runs/{runId}/events',
      '/api/runs/{runId}/messages',
      '/api/runs/{runId}/handoff',
      '/api/requests/{id}/decision',
    ]) {
      assert.ok(doc.body.paths[path], `OpenAPI documents ${path}`);
    }
    assert.ok(doc.body.paths['/api/runs'].post, 'POST /api/runs is documented');
    // each command's request body is its catalogued input, as JSON Schema (libs/contracts)
    const body = (path: string) => {
      const ref: string = doc.body.paths[path].post.requestBody.content['application/json'].schema.$ref;
      return doc.body.components.schemas[ref.replace('#/components/schemas/', '')];
    };
    assert.deepEqual(body('/api/runs').required, ['workflow', 'input']);
    assert.equal(body('/api/runs').additionalProperties, false);
    assert.deepEqual(Object.keys(body('/api/runs/{runId}/handoff').properties), ['to', 'reason']);
    assert.deepEqual(body('/api/requests/{id}/decision').properties.decision.enum, [...DECISIONS]);
    assert.equal(body('/api/runs/{runId}/fork').properties.atSeq.type, 'integer');
    assert.equal(body('/api/runs/{runId}/cancel').properties.reason.maxLength, 2000);
  });
});
