import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GENESIS_HASH, sealEvent, type EventEnvelope } from '@parley/contracts';
import { SqliteLog } from '@parley/event-store';
import { ParleyProcess } from '@parley/testing';
import { waitForRequest, waitForStatus } from '../patterns/helpers';
import { cli } from '../cli/cli-process';

/**
 * Anchors outside the log (issue "The log defends itself", finding 1): the signed heads also go to an
 * append-only anchor stream, so that a run deleted, cut short or rewritten in the database itself
 * (with every hash recomputed: it still verifies by itself) is found by `parley verify --anchors`.
 */

describe('anchors: a deleted or rewritten run is found', () => {
  let server: ParleyProcess;
  const runs: Record<'kept' | 'deleted' | 'rewritten' | 'truncated' | 'waiting', string> = {
    kept: '',
    deleted: '',
    rewritten: '',
    truncated: '',
    waiting: '',
  };

  async function refund(amount: number, approve: boolean): Promise<string> {
    const { body } = await server.client('carol').post('/api/runs', {
      workflow: 'refund-desk',
      input: `Please refund $${amount} for order #A${amount}`,
    });
    const { request } = await waitForRequest(server.client(), body.runId, (r) => r.kind === 'approval');
    if (!approve) return body.runId;
    await server.client('alice').post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    await waitForStatus(server.client(), body.runId, 'completed');
    return body.runId;
  }

  before(async () => {
    server = await ParleyProcess.start();
    runs.kept = await refund(150, true);
    runs.deleted = await refund(160, true);
    runs.rewritten = await refund(170, true);
    runs.truncated = await refund(180, true);
    runs.waiting = await refund(190, false);
  });
  after(async () => server.dispose());

  it('every run matches its anchors while nothing was touched', async () => {
    const ok = await cli(server.url, ['verify', '--anchors']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 5 runs match their anchors$/m);
    const anchors = readFileSync(join(server.dataDir, 'anchors.ndjson'), 'utf8').trim().split('\n');
    const reasons = anchors
      .map((l) => JSON.parse(l).head)
      .filter((h) => h.runId === runs.kept)
      .map((h) => h.reason);
    assert.deepEqual(reasons, ['waiting', 'ended']);
  });

  it('deleted, cut short and rewritten (hashes recomputed) runs are each reported; the others pass', async () => {
    await server.stop();
    const file = join(server.dataDir, 'events.db');
    const db = new Database(file);
    db.prepare('DELETE FROM events WHERE run = (SELECT id FROM runs WHERE run_id = ?)').run(runs.deleted);
    const last = db
      .prepare<[string], { seq: number }>(
        'SELECT MAX(seq) AS seq FROM events WHERE run = (SELECT id FROM runs WHERE run_id = ?)',
      )
      .get(runs.truncated)!.seq;
    db.prepare('DELETE FROM events WHERE run = (SELECT id FROM runs WHERE run_id = ?) AND seq >= ?').run(
      runs.truncated,
      last - 1,
    );
    // 170 → 17000 in every event, each hash recomputed with Parley's own library
    // the run's events as stored (decoded), then written back as JSON text: an edit by hand
    const rows = readRun(file, runs.rewritten);
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
    // the server itself refuses to serve a log that holds less than its anchors
    const refused = await ParleyProcess.start({ dataDir: server.dataDir }).then(
      (s) => s.stop().then(() => ''),
      (error: Error) => error.message,
    );
    assert.match(
      refused,
      /cannot start: the event log .*events\.db is damaged: it holds less than its anchor stream/,
    );
    assert.match(refused, new RegExp(`run ${runs.deleted} is anchored at seq \\d+, the log has no such run`));
    assert.match(refused, new RegExp(`run ${runs.rewritten} has another event at its anchored seq`));
    assert.match(refused, /To repair: /);
    // started anyway, as after a repair: the check names them
    server = await ParleyProcess.start({ dataDir: server.dataDir, env: { PARLEY_ACCEPT_LOST_EVENTS: '1' } });
    assert.equal(
      (await server.client().get(`/api/runs/${runs.rewritten}/verify`)).body.ok,
      true,
      'it verifies by itself',
    );

    const checked = await cli(server.url, ['verify', '--anchors']);
    assert.equal(checked.code, 4, checked.stdout + checked.stderr);
    assert.match(
      checked.stdout,
      new RegExp(`broken: \\(deleted\\) run ${runs.deleted} is anchored at seq \\d+ but is not in the log`),
    );
    // cut short, the run was resumed at start-up and wrote its end again: another history all the same
    assert.match(
      checked.stdout,
      new RegExp(
        `broken: \\((truncated|rewritten)\\) run ${runs.truncated}(: at seq ${last} the log's hash is| is anchored at seq ${last} but the log ends)`,
      ),
    );
    assert.match(
      checked.stdout,
      new RegExp(`broken: \\(rewritten\\) run ${runs.rewritten}: at seq \\d+ the log's hash is`),
    );
    assert.match(checked.stdout, /^broken: 3 of 5 runs do not match their anchors$/m);
    for (const runId of [runs.kept, runs.waiting]) assert.doesNotMatch(checked.stdout, new RegExp(runId));

    // with the server's key, each anchor's signature is checked here too
    const key = (await server.client(null).get('/.well-known/parley-signing-key')).body.publicKey;
    const json = JSON.parse((await cli(server.url, ['verify', '--anchors', '--key', key, '--json'])).stdout);
    assert.equal(json.ok, false);
    assert.deepEqual(
      json.runs
        .filter((r: { ok: boolean }) => !r.ok)
        .map((r: { problem: string }) => r.problem)
        .sort(),
      [
        'deleted',
        'rewritten',
        json.runs.find((r: { runId: string }) => r.runId === runs.truncated).problem,
      ].sort(),
    );
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
