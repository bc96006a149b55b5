import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inboxGroups, inboxKey, type RequestSummaryPayload } from '@parley/contracts';
import { pageRequests, type Keyed, type RequestsQuery } from './requests-query';

/** The inbox's query as the read model answers it: filters, search, order, whole-run pages, counts. */
const NOW = Date.parse('2026-12-04T12:00:00Z');
const at = (minutes: number): string => new Date(NOW + minutes * 60_000).toISOString();

const request = (id: string, over: Partial<RequestSummaryPayload>): RequestSummaryPayload => ({
  id,
  runId: 'run-a',
  workflow: 'refund-desk',
  kind: 'approval',
  status: 'open',
  title: `Request ${id}`,
  ask: 'Approve?',
  roles: ['approver'],
  createdAt: at(-60),
  deadline: null,
  ...over,
});

const REQUESTS = [
  request('r1', { runId: 'run-a', createdAt: at(-50), deadline: at(120), title: 'Refund $120 for #A201' }),
  request('r2', {
    runId: 'run-b',
    workflow: 'content-pipeline',
    kind: 'review',
    roles: ['editor'],
    createdAt: at(-40),
    deadline: at(5),
  }),
  request('r3', { runId: 'run-a', createdAt: at(-30), claimedBy: 'alice', title: 'Refund $140 for #A202' }),
  request('r4', {
    runId: 'run-c',
    workflow: 'support-triage',
    kind: 'escalation',
    roles: ['support'],
    createdAt: at(-70),
    deadline: at(10),
  }),
  request('r5', { runId: 'run-d', status: 'resolved', createdAt: at(-80) }),
];

function page(query: RequestsQuery, requests = REQUESTS, inScope = (_: RequestSummaryPayload) => true) {
  const sort = query.sort ?? 'deadline';
  const ordered: Keyed[] = requests
    .filter((r) => r.status === (query.status ?? 'open'))
    .map((r) => ({ request: r, key: inboxKey(r, sort) }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  return pageRequests(ordered, query, {
    me: 'alice',
    inScope,
    ofRun: (runId) => requests.filter((r) => r.runId === runId),
  });
}
const ids = (query: RequestsQuery): string[] => page(query).requests.map((r) => r.id);

describe('the inbox query (read model)', () => {
  it('orders by deadline (none last, then by age), a run whole where its first request sits', () => {
    assert.deepEqual(ids({}), ['r2', 'r4', 'r1', 'r3']);
    assert.deepEqual(
      inboxGroups(page({}).requests, 'deadline').map((g) => g.runId),
      ['run-b', 'run-c', 'run-a'],
      'the client groups the page as the server ordered it',
    );
  });

  it('orders by age, oldest first', () => {
    assert.deepEqual(ids({ sort: 'age' }), ['r4', 'r1', 'r3', 'r2']);
  });

  it('filters by kind, role, workflow, run, "claimed by me" and status', () => {
    assert.deepEqual(ids({ kind: 'approval' }), ['r1', 'r3']);
    assert.deepEqual(ids({ role: 'editor' }), ['r2']);
    assert.deepEqual(ids({ workflow: 'support-triage' }), ['r4']);
    assert.deepEqual(ids({ runId: 'run-a' }), ['r1', 'r3']);
    assert.deepEqual(ids({ mine: true }), ['r3']);
    assert.deepEqual(ids({ kind: 'approval', mine: true, workflow: 'content-pipeline' }), []);
    assert.deepEqual(ids({ status: 'resolved' }), ['r5']);
  });

  it('"expiring soon": a deadline before the instant given', () => {
    assert.deepEqual(ids({ expiringBefore: at(15) }), ['r2', 'r4']);
    assert.deepEqual(ids({ expiringBefore: at(7) }), ['r2']);
  });

  it('searches title, ask, kind, ids, workflow and claimer, case-insensitively', () => {
    assert.deepEqual(ids({ q: '#a202' }), ['r3']);
    assert.deepEqual(ids({ q: 'SUPPORT-TRIAGE' }), ['r4']);
    assert.deepEqual(ids({ q: 'alice' }), ['r3']);
    assert.deepEqual(ids({ q: 'escalation' }), ['r4']);
    assert.deepEqual(ids({ q: '  run-b ' }), ['r2']);
    assert.deepEqual(ids({ q: 'nothing like this' }), []);
  });

  it('counts what is in scope before the filters, and the total after them', () => {
    const p = page({ kind: 'approval' });
    assert.equal(p.total, 2);
    assert.deepEqual(p.counts, {
      all: 4,
      kinds: { approval: 2, review: 1, escalation: 1 },
      workflows: { 'refund-desk': 2, 'content-pipeline': 1, 'support-triage': 1 },
      roles: { approver: 2, editor: 1, support: 1 },
      mine: 1,
    });
    const approvers = page({}, REQUESTS, (r) => r.roles.includes('approver'));
    assert.equal(approvers.counts.all, 2);
    assert.deepEqual(
      approvers.requests.map((r) => r.id),
      ['r1', 'r3'],
      'out of scope: neither listed nor counted',
    );
  });

  it('pages whole runs by cursor: every request once, none split, the last page without a cursor', () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      request(`m${String(i).padStart(3, '0')}`, {
        runId: `run-${String(i % 100).padStart(3, '0')}`, // runs 0..19 have two requests
        createdAt: at(-300 + i),
      }),
    );
    const seen: string[] = [];
    const runsSeen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = page({ sort: 'age', limit: 25, cursor }, many);
      assert.equal(p.total, 120);
      assert.ok(p.requests.length <= 25, `a page of ${p.requests.length}`);
      const runs = [...new Set(p.requests.map((r) => r.runId))];
      for (const run of runs) {
        assert.ok(!runsSeen.includes(run), `run ${run} on one page only`);
        assert.equal(
          p.requests.filter((r) => r.runId === run).length,
          many.filter((r) => r.runId === run).length,
          `run ${run} whole`,
        );
      }
      runsSeen.push(...runs);
      seen.push(...p.requests.map((r) => r.id));
      cursor = p.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(seen.length, 120);
    assert.equal(new Set(seen).size, 120);
    assert.ok(pages >= 5 && pages <= 6, `${pages} pages`);
    // a run of more requests than a page still comes, alone
    const big = Array.from({ length: 4 }, (_, i) => request(`b${i}`, { runId: 'run-big', createdAt: at(i) }));
    const first = page({ sort: 'age', limit: 2 }, big);
    assert.equal(first.requests.length, 4);
    assert.equal(first.nextCursor, undefined);
  });

  it('refuses a cursor it did not give, or one of the other order, naming the field', () => {
    const p = page({ limit: 1 });
    assert.ok(p.nextCursor);
    assert.throws(() => page({ limit: 1, sort: 'age', cursor: p.nextCursor }), { field: 'cursor' });
    assert.throws(() => page({ cursor: 'AAAA' }), { field: 'cursor' });
    assert.deepEqual(
      page({ limit: 1, cursor: p.nextCursor }).requests.map((r) => r.id),
      ['r4'],
    );
  });
});
