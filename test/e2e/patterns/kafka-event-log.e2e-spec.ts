import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  CONTENT_PIPELINE_APPROVED,
  events,
  modelCalls,
  quoted,
  runContentPipelineApproved,
  typesOf,
} from './helpers';

/** The same run on the Kafka event log: the engine does not depend on where the log lives. */
describe('content-pipeline on the Kafka event log', () => {
  let server: ParleyProcess;
  before(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers)
      throw new Error(
        'KAFKA_BROKERS is unset: run through `node scripts/test.mjs` (it starts a broker) or point it at a broker',
      );
    server = await ParleyProcess.start({
      eventLog: 'kafka',
      env: { KAFKA_BROKERS: brokers, PARLEY_INSTANCE_ID: `e2e-patterns-${randomUUID()}` },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('runs to completion with the same event sequence as on SQLite', async () => {
    const alice = server.client('alice');
    const health = await alice.get('/api/runs');
    assert.equal(health.status, 200);
    const { runId, log, output } = await runContentPipelineApproved(alice, 'Write about heat pumps');
    assert.deepEqual(typesOf(log), CONTENT_PIPELINE_APPROVED);
    for (const e of log) assert.equal(e.runId, runId);
    for (let i = 1; i < log.length; i++)
      assert.equal(log[i].prevHash, log[i - 1].hash, `hash chain at seq ${log[i].seq}`);
    const [writer, editor, publisher] = [0, 1, 2].map((i) => modelCalls(log, `stage:${i}`)[0].data);
    assert.ok(editor.content.includes(quoted(writer.content)));
    assert.ok(publisher.content.includes(quoted(editor.content)));
    assert.equal(output, publisher.content);
    // NDJSON streams the same envelopes from the Kafka-backed store.
    const nd = await alice.get(`/api/runs/${runId}/events`, { accept: 'application/x-ndjson' });
    assert.deepEqual(
      (nd.body as string)
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      await events(alice, runId),
    );
  });
});
