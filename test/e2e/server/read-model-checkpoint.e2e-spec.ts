import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ParleyClient } from '@parley/client';
import { ParleyProcess, TEST_USERS, waitFor } from '@parley/testing';

/**
 * The read model (the runs list and the inbox) kept across a clean restart, on real server
 * processes: a start reads `read-model.checkpoint` and the events after it, and answers exactly what a
 * start that rebuilds it from the whole log answers; a checkpoint that was changed, signed by another
 * key, or written for more of the log than the log holds, is not used (the start says why and
 * rebuilds).
 */

const root = mkdtempSync(join(tmpdir(), 'parley-read-model-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CHECKPOINT = 'read-model.checkpoint';
const client = (server: ParleyProcess, user: keyof typeof TEST_USERS = 'alice') =>
  new ParleyClient({ baseUrl: server.url, token: TEST_USERS[user].token });

/** What the lists answer: every run, and the requests of every status, in the server's order. */
async function lists(server: ParleyProcess): Promise<unknown> {
  const alice = client(server, 'admin');
  const runs = await alice.runsPage({ limit: 500 });
  const requests: Record<string, unknown> = {};
  for (const status of ['open', 'resolved', 'expired', 'closed'] as const)
    for (const sort of ['deadline', 'age'] as const)
      requests[`${status} by ${sort}`] = await alice.requestsPage({ status, sort, limit: 200 });
  const waiting = await alice.runsPage({ status: 'waiting', limit: 500 });
  return { runs, requests, waiting: waiting.total };
}

const said = (server: ParleyProcess, pattern: RegExp): boolean => pattern.test(server.output.join(''));

describe('the read model kept across a clean restart', () => {
  const dataDir = join(root, 'data');
  let before1: unknown;
  let keyedRun: string;

  before(async () => {
    mkdirSync(dataDir);
    const server = await ParleyProcess.start({ dataDir });
    try {
      const carol = client(server, 'carol');
      const alice = client(server, 'alice');
      const waiting: string[] = [];
      for (let i = 0; i < 4; i++)
        waiting.push(
          (
            await carol.startRun({
              workflow: 'refund-desk',
              input: `Please refund $${120 + i} for order #K${i}`,
            })
          ).runId,
        );
      keyedRun = (
        await carol.startRun({
          workflow: 'refund-desk',
          input: 'Please refund $20 for order #K9, it arrived late.',
          idempotencyKey: 'k9-refund',
        })
      ).runId;
      await carol.startRun({ workflow: 'support-triage', input: 'I was charged twice' });
      await waitFor('five open requests', async () =>
        (await alice.requestsPage()).total === 5 ? true : undefined,
      );
      const open = (await alice.requestsPage({ sort: 'age' })).requests;
      const approvals = open.filter((r) => r.kind === 'approval');
      await alice.claim(approvals[0].id);
      await alice.decide(approvals[1].id, { decision: 'reject', comment: 'not this one' });
      await client(server, 'admin').cancel(waiting[3], 'a duplicate');
      await waitFor('the keyed run completed and the others settled', async () => {
        const runs = await alice.listRuns();
        return runs.find((r) => r.runId === keyedRun)?.status === 'completed' &&
          runs.every((r) => r.status !== 'running')
          ? true
          : undefined;
      });
      before1 = await lists(server);
    } finally {
      await server.stop();
    }
    assert.ok(existsSync(join(dataDir, CHECKPOINT)), 'a clean stop writes the checkpoint');
  });

  it('a start reads it and the events after it: the lists are what a rebuild from the log gives', async () => {
    let server = await ParleyProcess.start({ dataDir });
    try {
      assert.ok(said(server, /read model ready in \d+ ms \(kept at position \d+/), server.output.join(''));
      assert.deepEqual(await lists(server), before1);
      // what it kept beyond the lists: the idempotency keys
      const again = await client(server, 'carol').startRun({
        workflow: 'refund-desk',
        input: 'Please refund $20 for order #K9, it arrived late.',
        idempotencyKey: 'k9-refund',
      });
      assert.equal(again.runId, keyedRun);
      // a run after the checkpoint, then a crash: the next start uses the older checkpoint and catches up
      const late = await client(server, 'carol').startRun({
        workflow: 'refund-desk',
        input: 'Please refund $130 for order #K5',
      });
      await waitFor('the new run waits on its approval', async () =>
        (await client(server).getRun(late.runId)).status === 'waiting' ? true : undefined,
      );
    } finally {
      await server.kill();
    }
    server = await ParleyProcess.start({ dataDir });
    let afterCrash: unknown;
    try {
      assert.ok(said(server, /\(kept at position \d+, then the events after it\)/));
      afterCrash = await lists(server);
      assert.equal((afterCrash as { runs: { total: number } }).runs.total, 7);
    } finally {
      await server.stop();
    }
    // the same folder without the checkpoint: rebuilt from the whole log, the same answers
    rmSync(join(dataDir, CHECKPOINT));
    server = await ParleyProcess.start({ dataDir });
    try {
      assert.ok(!said(server, /kept at position/));
      assert.deepEqual(await lists(server), afterCrash);
    } finally {
      await server.stop();
    }
  });

  it('a checkpoint changed, signed by another key, or ahead of the log is not used: the start says why and rebuilds', async () => {
    const expected = await (async () => {
      const server = await ParleyProcess.start({ dataDir });
      try {
        return await lists(server);
      } finally {
        await server.stop();
      }
    })();
    const file = join(dataDir, CHECKPOINT);
    const kept = readFileSync(file);

    // one byte of its body changed
    const changed = Buffer.from(kept);
    changed[changed.length - 10] ^= 0x01;
    writeFileSync(file, changed);
    let server = await ParleyProcess.start({ dataDir });
    try {
      assert.ok(
        said(
          server,
          /not using .*read-model\.checkpoint: its body does not match the hash its header names; rebuilding it from the log/,
        ),
      );
      assert.deepEqual(await lists(server), expected);
    } finally {
      await server.stop();
    }

    // another server's checkpoint (another data folder, another signing key)
    const other = join(root, 'other');
    mkdirSync(other);
    const stranger = await ParleyProcess.start({ dataDir: other });
    await stranger.stop();
    writeFileSync(join(other, CHECKPOINT), kept);
    server = await ParleyProcess.start({ dataDir: other });
    try {
      assert.ok(said(server, /not using .*: it is signed by another key/));
      assert.equal((await client(server).runsPage()).total, 0);
    } finally {
      await server.stop();
    }

    // the log lost its last event (accepted at start-up): the checkpoint names more than the log holds
    writeFileSync(file, kept);
    const db = new Database(join(dataDir, 'events.db'));
    db.prepare('DELETE FROM events WHERE position = (SELECT MAX(position) FROM events)').run();
    db.close();
    server = await ParleyProcess.start({ dataDir, env: { PARLEY_ACCEPT_LOST_EVENTS: 'true' } });
    try {
      assert.ok(
        said(server, /not using .*: the log no longer holds the event it was written after \(position \d+\)/),
      );
      assert.equal((await client(server, 'admin').runsPage()).total, 7);
    } finally {
      await server.stop();
    }
  });
});
