import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestSummaryPayload } from '@parley/contracts/socket/socket.schemas';
import {
  EXPIRING_SOON_MS,
  NO_FILTER,
  capGroups,
  choices,
  inboxView,
  type InboxFilter,
} from '../../apps/console/src/inbox/inbox-model';

/** The inbox's filters, search, order and grouping by run (apps/console/src/inbox/inbox-model.ts). */
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
];
const context = { me: 'alice', now: NOW };
const ids = (filter: Partial<InboxFilter>): string[][] =>
  inboxView(REQUESTS, { ...NO_FILTER, ...filter }, context).map((g) => g.requests.map((r) => r.id));

describe('the inbox view', () => {
  it('orders by deadline (none last, then by age) and groups a run where its first request sits', () => {
    assert.deepEqual(ids({}), [['r2'], ['r4'], ['r1', 'r3']]);
    const groups = inboxView(REQUESTS, NO_FILTER, context);
    assert.deepEqual(
      groups.map((g) => [g.runId, g.workflow]),
      [
        ['run-b', 'content-pipeline'],
        ['run-c', 'support-triage'],
        ['run-a', 'refund-desk'],
      ],
    );
  });

  it('orders by age, oldest first', () => {
    assert.deepEqual(ids({ sort: 'age' }), [['r4'], ['r1', 'r3'], ['r2']]);
  });

  it('filters by kind, role, workflow, run and "claimed by me"', () => {
    assert.deepEqual(ids({ kind: 'approval' }), [['r1', 'r3']]);
    assert.deepEqual(ids({ role: 'editor' }), [['r2']]);
    assert.deepEqual(ids({ workflow: 'support-triage' }), [['r4']]);
    assert.deepEqual(ids({ runId: 'run-a' }), [['r1', 'r3']]);
    assert.deepEqual(ids({ mine: true }), [['r3']]);
    assert.deepEqual(
      ids({ kind: 'approval', mine: true, workflow: 'content-pipeline' }),
      [],
      'filters add up',
    );
  });

  it('"expiring soon" keeps deadlines closer than the warning window', () => {
    assert.equal(EXPIRING_SOON_MS, 15 * 60_000);
    assert.deepEqual(ids({ expiring: true }), [['r2'], ['r4']]);
  });

  it('searches title, ask, kind, ids, workflow and claimer, case-insensitively', () => {
    assert.deepEqual(ids({ search: '#a202' }), [['r3']]);
    assert.deepEqual(ids({ search: 'SUPPORT-TRIAGE' }), [['r4']]);
    assert.deepEqual(ids({ search: 'alice' }), [['r3']]);
    assert.deepEqual(ids({ search: 'escalation' }), [['r4']]);
    assert.deepEqual(ids({ search: '  run-b ' }), [['r2']]);
    assert.deepEqual(ids({ search: 'nothing like this' }), []);
  });

  it('draws at most the first groups and counts the requests past them', () => {
    const many = Array.from({ length: 250 }, (_, i) =>
      request(`m${i}`, { runId: `run-${String(i).padStart(3, '0')}`, createdAt: at(-300 + i) }),
    );
    many.push(request('m-extra', { runId: 'run-249', createdAt: at(-1) }));
    const { shown, hidden } = capGroups(inboxView(many, { ...NO_FILTER, sort: 'age' }, context));
    assert.equal(shown.length, 200);
    assert.equal(shown[0].runId, 'run-000');
    assert.equal(hidden, 51, '50 groups past the cap, one of them with two requests');
    assert.deepEqual(capGroups(inboxView(REQUESTS, NO_FILTER, context)).hidden, 0);
  });

  it('offers each filter value once, sorted, without blanks', () => {
    assert.deepEqual(choices(REQUESTS.map((r) => r.kind)), ['approval', 'escalation', 'review']);
    assert.deepEqual(choices(['b', undefined, 'a', '', 'b']), ['a', 'b']);
  });
});
