import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ParleyApiError, ParleyClient } from '@parley/client';
import { ParleyProcess, TEST_USERS, waitFor } from '@parley/testing';

describe('GET /api/runs: pages, search and totals against a real server', () => {
  const servers: ParleyProcess[] = [];
  after(async () => {
    for (const s of servers) await s.dispose().catch(() => undefined);
  });

  it('pages through every run once by cursor, newest first, even when runs start between pages', async () => {
    const server = await ParleyProcess.start();
    servers.push(server);
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    const started: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { runId } = await carol.startRun({
        workflow: 'refund-desk',
        input: `Please refund $${100 + i} for order #P${i}\nmore detail on a second line`,
      });
      started.push(runId);
    }
    await waitFor('all seven listed', async () =>
      (await carol.runsPage({ workflow: 'refund-desk' })).total === 7 ? true : undefined,
    );

    const seen: string[] = [];
    let page = await carol.runsPage({ workflow: 'refund-desk', limit: 3 });
    assert.equal(page.total, 7);
    assert.equal(page.runs.length, 3);
    seen.push(...page.runs.map((r) => r.runId));
    const { runId: late } = await carol.startRun({ workflow: 'refund-desk', input: 'Started between pages' });
    while (page.nextCursor) {
      page = await carol.runsPage({ workflow: 'refund-desk', limit: 3, cursor: page.nextCursor });
      seen.push(...page.runs.map((r) => r.runId));
    }
    assert.equal(new Set(seen).size, seen.length, 'no run twice');
    assert.deepEqual([...seen].sort(), [...started].sort(), 'every run that existed at the first page, once');
    assert.ok(!seen.includes(late), 'a run started meanwhile is on a newer page, not in the middle');
    const first = (await carol.runsPage({ workflow: 'refund-desk', limit: 500 })).runs;
    assert.equal(first[0].runId, late);
    const keys = first.map((r) => `${r.createdAt} ${r.runId}`);
    assert.deepEqual(keys, [...keys].sort().reverse(), 'newest first by start time, then run id');
    const one = first.find((r) => r.runId === started[3])!;
    assert.equal(one.title, 'Please refund $103 for order #P3', 'the title is the first line of the input');
    assert.equal(one.requestedBy, 'carol');

    const waiting = await waitFor('a run waiting on its approval', async () => {
      const r = (await carol.runsPage({ q: '#P3' })).runs[0];
      return r?.status === 'waiting' ? r : undefined;
    });
    assert.equal(waiting.runId, started[3]);
    assert.equal(waiting.waitingOn?.[0]?.kind, 'approval');
    assert.ok((waiting.waitingOn?.[0]?.roles.length ?? 0) > 0);

    const byTitle = await carol.runsPage({ q: 'order #p5' });
    assert.deepEqual(
      byTitle.runs.map((r) => r.runId),
      [started[5]],
    );
    assert.equal(byTitle.total, 1);
    const byId = await carol.runsPage({ q: started[2].slice(0, 12) });
    assert.ok(byId.runs.some((r) => r.runId === started[2]));
    assert.equal((await carol.runsPage({ q: 'no such thing anywhere' })).total, 0);
    assert.equal((await carol.runsPage({ q: 'refund-desk' })).total, 8, 'q searches the workflow name');

    const all = await carol.runsPage({});
    const byStatus = await Promise.all(
      (['running', 'waiting', 'completed', 'failed', 'cancelled'] as const).map(
        async (status) => (await carol.runsPage({ status })).total,
      ),
    );
    assert.equal(
      byStatus.reduce((a, b) => a + b, 0),
      all.total,
      'the per-status totals add up to all runs',
    );
  });

  it('runs:watch: a started run arrives in a batched runs:changed with its title', async () => {
    const server = await ParleyProcess.start();
    servers.push(server);
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    const batches: { at: number; runs: { runId: string; title?: string; status: string }[] }[] = [];
    const watch = carol.watchRuns({ onChange: (runs) => batches.push({ at: Date.now(), runs }) });
    try {
      await watch.ready;
      const { runId } = await carol.startRun({
        workflow: 'refund-desk',
        input: 'Please refund $130 for order #W1\nline two',
      });
      const seen = await waitFor('runs:changed with the run', async () =>
        batches.flatMap((b) => b.runs).find((r) => r.runId === runId),
      );
      assert.equal(seen.title, 'Please refund $130 for order #W1');
      await waitFor('the run waiting in a later batch', async () =>
        batches.some((b) => b.runs.some((r) => r.runId === runId && r.status === 'waiting'))
          ? true
          : undefined,
      );
      const withRuns = batches.filter((b) => b.runs.length > 0);
      for (const b of withRuns)
        assert.equal(new Set(b.runs.map((r) => r.runId)).size, b.runs.length, 'each run once per batch');
      for (let i = 1; i < withRuns.length; i++)
        assert.ok(withRuns[i].at - withRuns[i - 1].at >= 150, 'batches are at least ~200 ms apart');
    } finally {
      watch.close();
    }
  });

  it('refuses a bad limit or cursor with a 400 naming the field', async () => {
    const server = await ParleyProcess.start();
    servers.push(server);
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    for (const [query, field] of [
      [{ limit: 0 }, 'limit'],
      [{ limit: 501 }, 'limit'],
      [{ limit: 'many' }, 'limit'],
      [{ cursor: 'not!a!cursor' }, 'cursor'],
      [{ cursor: 'AAAA' }, 'cursor'],
    ] as const) {
      const answer = await fetch(
        `${server.url}/api/runs?${new URLSearchParams(query as Record<string, string>).toString()}`,
        { headers: { authorization: `Bearer ${TEST_USERS.carol.token}` } },
      );
      assert.equal(answer.status, 400, JSON.stringify(query));
      const body = (await answer.json()) as { error: { code: string; field?: string } };
      assert.equal(body.error.code, 'REQUEST.INVALID_QUERY');
      assert.equal(body.error.field, field, JSON.stringify(query));
    }
    const viaClient = await carol.runsPage({ limit: 9999 }).catch((e: unknown) => e);
    assert.ok(viaClient instanceof ParleyApiError);
    assert.equal(viaClient.field, 'limit');
  });
});
