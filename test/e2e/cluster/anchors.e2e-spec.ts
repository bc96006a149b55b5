import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Kafka, logLevel } from 'kafkajs';
import { GENESIS_HASH, sealEvent, type EventEnvelope } from '@parley/contracts';
import { SqliteLog } from '@parley/event-store';
import { ParleyProcess, waitFor } from '@parley/testing';
import { waitForRequest, waitForStatus } from '../patterns/helpers';
import { brokers, dropCluster, ownerOf, startCluster, waitBalanced } from './cluster-helpers';
import { cli } from '../cli/cli-process';

/**
 * The anchor stream of a cluster is one Kafka topic (`<prefix>.anchors`, issue "The log defends
 * itself"): the owner of a run signs its head when it waits or ends, and every instance checks every
 * run against what all of them anchored. A run whose copy of the log was rewritten or lost is found
 * by an instance that did not anchor it, and by one that joined later on a fresh data folder.
 */

interface RunCheck {
  runId: string;
  ok: boolean;
  problem?: string;
  message: string;
  anchored?: { seq: number; keyId: string; reason: string };
}

describe('cluster: one anchor stream (a Kafka topic) for every instance', () => {
  let instances: ParleyProcess[] = [];
  const extra: ParleyProcess[] = [];
  const foreignDirs: string[] = [];
  let prefix = '';
  const runs = { kept: '', deleted: '', rewritten: '', waiting: '' };

  const env = (i: number): Record<string, string> => ({
    KAFKA_BROKERS: brokers(),
    PARLEY_INSTANCE_ID: `${prefix}-${String.fromCharCode(97 + i)}`,
    PARLEY_KAFKA_TOPIC_PREFIX: prefix,
    PARLEY_KAFKA_SESSION_TIMEOUT_MS: '6000',
    PARLEY_KAFKA_HEARTBEAT_MS: '500',
    OFFLINE_MODEL_TOKEN_LATENCY_MS: '2',
  });

  async function refund(amount: number, approve: boolean): Promise<string> {
    const api = instances[0];
    const { body } = await api.client('carol').post('/api/runs', {
      workflow: 'refund-desk',
      input: `Please refund $${amount} for order #K${amount}`,
    });
    const { request } = await waitForRequest(
      api.client(),
      body.runId,
      (r) => r.kind === 'approval',
      'the approval',
      30_000,
    );
    if (!approve) return body.runId;
    const decided = await api
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    await waitForStatus(api.client(), body.runId, 'completed', 30_000);
    return body.runId;
  }

  const check = async (
    instance: ParleyProcess,
  ): Promise<{
    ok: boolean;
    runs: RunCheck[];
    anchors: any;
    keys: Array<{ keyId: string; status: string }>;
  }> => {
    const answer = await instance.client('carol').get('/api/anchors/check');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  };
  const keyIdOf = async (instance: ParleyProcess): Promise<string> =>
    (await instance.client(null).get('/.well-known/parley-signing-key')).body.keyId;

  before(async () => {
    ({ prefix, instances } = await startCluster(2, { OFFLINE_MODEL_TOKEN_LATENCY_MS: '2' }));
    runs.kept = await refund(150, true);
    runs.deleted = await refund(160, true);
    runs.rewritten = await refund(170, true);
    runs.waiting = await refund(180, false);
  });
  after(async () => {
    await Promise.all([...instances, ...extra].map((i) => i.dispose()));
    for (const dir of foreignDirs) rmSync(dir, { recursive: true, force: true });
    if (prefix) await dropCluster(prefix);
  });

  it("each run is anchored once, by its owner, and the other instance's check sees it", async () => {
    const keys = new Map<ParleyProcess, string>();
    for (const i of instances) keys.set(i, await keyIdOf(i));
    assert.notEqual(keys.get(instances[0]), keys.get(instances[1]), 'each instance has its own key here');
    const owners = new Map<string, ParleyProcess>();
    for (const runId of Object.values(runs)) owners.set(runId, await ownerOf(instances, runId));
    for (const instance of instances) {
      const verdict = await check(instance);
      assert.equal(verdict.ok, true, JSON.stringify(verdict.runs.filter((r) => !r.ok)));
      assert.deepEqual(verdict.anchors, { kind: 'kafka', topic: `${prefix}.anchors` });
      // its own key's anchors are verified here; the other instance's key is not one it knows
      for (const k of verdict.keys)
        assert.equal(k.status, k.keyId === keys.get(instance) ? 'verified' : 'unknown', JSON.stringify(k));
      for (const [runId, owner] of owners) {
        const run = verdict.runs.find((r) => r.runId === runId);
        assert.ok(run?.ok, `run ${runId} checked on ${instance.url}: ${JSON.stringify(run)}`);
        assert.equal(run.anchored?.keyId, keys.get(owner), `run ${runId} is signed by its owner's key`);
        assert.equal(run.anchored?.reason, runId === runs.waiting ? 'waiting' : 'ended');
      }
    }
    const cross =
      [...owners.values()].some((o) => o === instances[0]) &&
      [...owners.values()].some((o) => o === instances[1]);
    if (!cross) console.log('# (every run had the same owner: the other instance checked them all)');
    // waiting + ended for each of 3 runs, waiting for the last: 7 records, none signed twice
    const admin = new Kafka({
      clientId: 'anchors-test',
      brokers: brokers().split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(`${prefix}.anchors`);
      assert.equal(
        offsets.reduce((n, o) => n + Number(o.high), 0),
        7,
      );
    } finally {
      await admin.disconnect();
    }
    for (const instance of instances) {
      const { signing } = (await instance.client(null).get('/health')).body.checks;
      assert.deepEqual(signing.anchors, { kind: 'kafka', location: `${prefix}.anchors` });
      assert.equal(signing.pending, 0, JSON.stringify(signing));
    }
    const ok = await cli(instances[1].url, ['verify', '--anchors']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 4 runs match their anchors$/m);
  });

  it("a run rewritten or deleted in an instance's copy of the log is reported against the Kafka anchors", async () => {
    const b = instances[1];
    await b.stop();
    const file = join(b.dataDir, `kafka-local-${prefix}-b`, 'events.db');
    const db = new Database(file);
    db.prepare('DELETE FROM events WHERE run = (SELECT id FROM runs WHERE run_id = ?)').run(runs.deleted);
    // the run's events as stored (decoded), then written back as JSON text: an edit by hand
    const rows = readRun(file, runs.rewritten);
    assert.ok(rows.length > 0);
    let prevHash = GENESIS_HASH;
    const update = db.prepare(
      'UPDATE events SET body = ?, hash = ? WHERE run = (SELECT id FROM runs WHERE run_id = ?) AND seq = ?',
    );
    for (const row of rows) {
      const { hash: _hash, ...rest } = JSON.parse(
        JSON.stringify(row).replace(/"amount":170\b/g, '"amount":17000'),
      ) as EventEnvelope;
      const sealed = sealEvent({ ...rest, prevHash });
      prevHash = sealed.hash;
      update.run(JSON.stringify(sealed), Buffer.from(sealed.hash, 'hex'), runs.rewritten, row.seq);
    }
    db.close();
    const again = await ParleyProcess.start({ eventLog: 'kafka', dataDir: b.dataDir, env: env(1) });
    instances[1] = again;
    foreignDirs.push(b.dataDir);
    await waitBalanced(instances);

    const verdict = await check(again);
    assert.equal(verdict.ok, false);
    const by = new Map(verdict.runs.map((r) => [r.runId, r]));
    assert.equal(by.get(runs.deleted)?.problem, 'deleted', JSON.stringify(by.get(runs.deleted)));
    assert.equal(by.get(runs.rewritten)?.problem, 'rewritten', JSON.stringify(by.get(runs.rewritten)));
    assert.equal(by.get(runs.kept)?.ok, true);
    assert.equal(by.get(runs.waiting)?.ok, true);
    const broken = await cli(again.url, ['verify', '--anchors']);
    assert.equal(broken.code, 4, broken.stdout + broken.stderr);
    assert.match(
      broken.stdout,
      new RegExp(`broken: \\(deleted\\) run ${runs.deleted} is anchored at seq \\d+ but is not in the log`),
    );
    assert.match(
      broken.stdout,
      new RegExp(`broken: \\(rewritten\\) run ${runs.rewritten}: at seq \\d+ the log's hash is`),
    );
    assert.match(broken.stdout, /^broken: 2 of 4 runs do not match their anchors$/m);
    // the instance whose copy was not touched still says every run matches
    assert.equal((await check(instances[0])).ok, true);
  });

  it('records lost from the run-events topic are found by an instance that joins later, on a fresh folder', async () => {
    const admin = new Kafka({
      clientId: 'anchors-test',
      brokers: brokers().split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const lost: string[] = [];
    try {
      const topic = `${prefix}.run-events`;
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = md.topics[0].partitions.length;
      // the partition of the kept run: everything in it is deleted (as a retention set too short would)
      const { partition } = (await instances[0].client('victor').get(`/api/cluster?runId=${runs.kept}`)).body
        .run;
      assert.ok(partition >= 0 && partition < partitions);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: '-1' }] });
      for (const runId of Object.values(runs)) {
        const p = (await instances[0].client('victor').get(`/api/cluster?runId=${runId}`)).body.run.partition;
        if (p === partition) lost.push(runId);
      }
    } finally {
      await admin.disconnect();
    }
    const c = await ParleyProcess.start({ eventLog: 'kafka', env: env(2) });
    extra.push(c);
    const verdict = await waitFor(
      'the new instance to have read the log',
      async () => {
        const v = await check(c);
        return v.runs.length >= 4 ? v : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const by = new Map(verdict.runs.map((r) => [r.runId, r]));
    for (const runId of lost) assert.equal(by.get(runId)?.problem, 'deleted', JSON.stringify(by.get(runId)));
    assert.ok(lost.includes(runs.kept));
    for (const runId of [runs.kept, runs.rewritten, runs.waiting].filter((r) => !lost.includes(r)))
      assert.equal(by.get(runId)?.ok, true, JSON.stringify(by.get(runId)));
  });

  it('an anchor written into the topic by someone without the key it names is reported forged', async () => {
    const a = instances[0];
    const keyId = await keyIdOf(a);
    const head = (await a.client('carol').get(`/api/runs/${runs.waiting}/verify`)).body;
    const stored = (await check(a)).runs.find((r) => r.runId === runs.waiting)!;
    assert.ok(stored.anchored, JSON.stringify(stored));
    const kafka = new Kafka({
      clientId: 'anchors-test',
      brokers: brokers().split(','),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      const forged = { ...stored.anchored, seq: stored.anchored.seq + 1, keyId, signature: 'AAAA' };
      await producer.send({
        topic: `${prefix}.anchors`,
        messages: [{ key: runs.waiting, value: JSON.stringify({ head: forged, instance: 'intruder' }) }],
      });
    } finally {
      await producer.disconnect();
    }
    const verdict = await check(a);
    const run = verdict.runs.find((r) => r.runId === runs.waiting);
    assert.equal(run?.problem, 'forged', JSON.stringify(run ?? head));
    assert.match(run!.message, new RegExp(`names key ${keyId} but its signature does not verify`));
  });
});

/** A run's events as the log stores them, decoded (the log closed again). */
function readRun(file: string, runId: string): EventEnvelope[] {
  const log = new SqliteLog(file);
  try {
    return log.read(runId);
  } finally {
    log.close();
  }
}
