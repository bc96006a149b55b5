import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyApiError, ParleyClient } from '@parley/client';
import { RequestsPageSchema, inboxKey } from '@parley/contracts';
import { ParleyProcess, TEST_USERS, waitFor } from '@parley/testing';

/** GET /api/requests: the inbox's query (filters, search, order, pages by cursor, counts) against a real server. */
describe('GET /api/requests: pages, filters, search, order and counts against a real server', () => {
  let server: ParleyProcess;
  let alice: ParleyClient;
  const refunds: string[] = [];
  let triage: string;

  const get = async (query: Record<string, string>) => {
    const answer = await fetch(`${server.url}/api/requests?${new URLSearchParams(query).toString()}`, {
      headers: { authorization: `Bearer ${TEST_USERS.alice.token}` },
    });
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  };

  before(async () => {
    server = await ParleyProcess.start();
    alice = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.alice.token });
    const carol = alice.as(TEST_USERS.carol.token);
    for (let i = 0; i < 6; i++)
      refunds.push(
        (
          await carol.startRun({
            workflow: 'refund-desk',
            input: `Please refund $${110 + i} for order #Q${i}`,
          })
        ).runId,
      );
    triage = (await alice.startRun({ workflow: 'support-triage', input: 'I was charged twice' })).runId;
    // six approvals (an hour's deadline each) and the triage's route review (no deadline)
    await waitFor('seven open requests', async () =>
      (await alice.requestsPage()).total === 7 ? true : undefined,
    );
  });
  after(async () => {
    await server?.dispose();
  });

  it('pages through every open request once by cursor, whole runs, in either order', async () => {
    for (const sort of ['age', 'deadline'] as const) {
      const seen: { id: string; key: string }[] = [];
      let page = await alice.requestsPage({ sort, limit: 3 });
      let pages = 1;
      for (;;) {
        assert.equal(page.total, 7);
        assert.ok(page.requests.length <= 3);
        seen.push(...page.requests.map((r) => ({ id: r.id, key: inboxKey(r, sort) })));
        if (!page.nextCursor) break;
        page = await alice.requestsPage({ sort, limit: 3, cursor: page.nextCursor });
        pages++;
      }
      assert.equal(pages, 3, `${sort}: 3 + 3 + 1`);
      assert.equal(new Set(seen.map((s) => s.id)).size, 7, `${sort}: every request once`);
      const keys = seen.map((s) => s.key);
      assert.deepEqual(keys, [...keys].sort(), `${sort}: in order across pages`);
    }
    const byDeadline = await alice.requestsPage({ sort: 'deadline' });
    assert.equal(byDeadline.requests.at(-1)?.runId, triage, 'no deadline: last');
    assert.ok(byDeadline.requests.slice(0, 6).every((r) => r.deadline !== null));
    const byAge = await alice.requestsPage({ sort: 'age' });
    // oldest first: by when each request opened (the runs go at their own pace)
    const opened = byAge.requests.map((r) => `${r.createdAt} ${r.id}`);
    assert.deepEqual(opened, [...opened].sort());
    assert.deepEqual(
      (await alice.allRequests({ limit: 2 })).map((r) => r.id).sort(),
      byAge.requests.map((r) => r.id).sort(),
      'the client pages through them all',
    );
  });

  it('filters by kind, workflow, run, role, "claimed by me", "expiring soon" and search; counts before the filters', async () => {
    const total = async (query: Parameters<ParleyClient['requestsPage']>[0]) =>
      (await alice.requestsPage(query)).total;
    assert.equal(await total({ kind: 'approval' }), 6);
    assert.equal(await total({ kind: 'review' }), 1);
    assert.equal(await total({ workflow: 'support-triage' }), 1);
    assert.equal(await total({ workflow: 'refund-desk', kind: 'review' }), 0, 'filters add up');
    const ofRun = await alice.requestsPage({ runId: refunds[2] });
    assert.deepEqual(
      ofRun.requests.map((r) => r.runId),
      [refunds[2]],
    );
    assert.equal(await total({ role: 'approver' }), 7, 'the route review is open to approvers too');
    // search: the run id, the order in the title, case-insensitively
    const found = await alice.requestsPage({ q: refunds[4].slice(0, 13).toUpperCase() });
    assert.deepEqual(
      found.requests.map((r) => r.runId),
      [refunds[4]],
    );
    assert.equal(await total({ q: 'nothing like this anywhere' }), 0);
    // expiring: the approvals' deadline is an hour away
    const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();
    assert.equal(await total({ expiringBefore: inMinutes(15) }), 0);
    assert.equal(await total({ expiringBefore: inMinutes(61) }), 6);

    const one = (await alice.requestsPage({ kind: 'approval', runId: refunds[1] })).requests[0];
    await alice.claim(one.id);
    const mine = await alice.requestsPage({ mine: true });
    assert.deepEqual(
      mine.requests.map((r) => [r.id, r.claimedBy]),
      [[one.id, 'alice']],
    );
    assert.deepEqual(mine.counts, {
      all: 7,
      kinds: { approval: 6, review: 1 },
      workflows: { 'refund-desk': 6, 'support-triage': 1 },
      roles: mine.counts.roles,
      mine: 1,
    });
    assert.equal(mine.counts.roles.approver, 7);
    assert.equal((await get({ mine: 'true', kind: 'approval' })).body.total, 1, 'query strings: mine=true');
    await alice.release(one.id);
    assert.equal(await total({ mine: true }), 0);

    // whose: a viewer may act on none; with role, the requests open to it
    const victor = alice.as(TEST_USERS.victor.token);
    const none = await victor.requestsPage();
    assert.deepEqual([none.total, none.counts.all, none.requests.length], [0, 0, 0]);
    assert.equal((await victor.requestsPage({ role: 'approver' })).total, 7);
    // another status, with the same query
    assert.equal((await alice.requestsPage({ status: 'resolved' })).total, 0);
  });

  it('the answer is the page schema, also over plain HTTP', async () => {
    const answer = await get({ limit: '2', sort: 'age' });
    assert.equal(answer.status, 200);
    const page = RequestsPageSchema.parse(answer.body);
    assert.equal(page.requests.length, 2);
    assert.ok(page.nextCursor);
    const next = await get({ limit: '2', sort: 'age', cursor: page.nextCursor });
    assert.equal(next.status, 200);
    assert.notDeepEqual(
      RequestsPageSchema.parse(next.body).requests.map((r) => r.id),
      page.requests.map((r) => r.id),
    );
  });

  it('refuses a bad query with a 400 naming the field', async () => {
    const { nextCursor } = await alice.requestsPage({ limit: 1, sort: 'age' });
    for (const [query, field] of [
      [{ limit: '0' }, 'limit'],
      [{ limit: '501' }, 'limit'],
      [{ limit: 'many' }, 'limit'],
      [{ cursor: 'not!a!cursor' }, 'cursor'],
      [{ cursor: 'AAAA' }, 'cursor'],
      [{ cursor: nextCursor!, sort: 'deadline' }, 'cursor'], // a cursor of the other order
      [{ sort: 'newest' }, 'sort'],
      [{ mine: 'maybe' }, 'mine'],
      [{ expiringBefore: 'tomorrow' }, 'expiringBefore'],
      [{ kind: 'nope' }, 'kind'],
      [{ status: 'pending' }, 'status'],
      [{ q: 'x'.repeat(201) }, 'q'],
      [{ colour: 'blue' }, 'colour'],
    ] as const) {
      const answer = await get(query);
      assert.equal(answer.status, 400, JSON.stringify(query));
      const error = (answer.body as { error: { code: string; field?: string; message: string } }).error;
      assert.equal(error.code, 'REQUEST.INVALID_QUERY', JSON.stringify(query));
      assert.equal(error.field, field, JSON.stringify(query));
      assert.match(error.message, new RegExp(`^${field}\\b`), error.message);
    }
    const viaClient = await alice.requestsPage({ limit: 9999 }).catch((e: unknown) => e);
    assert.ok(viaClient instanceof ParleyApiError);
    assert.equal(viaClient.field, 'limit');
  });
});
