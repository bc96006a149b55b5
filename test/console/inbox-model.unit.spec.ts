import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InboxWatchMessage } from '@parley/contracts/socket/socket.schemas';
import {
  EXPIRING_SOON_MS,
  NO_FILTER,
  PAGE_SIZE,
  choices,
  inboxQuery,
  runGroups,
} from '../../apps/console/src/inbox/inbox-model';

/**
 * The inbox's filter bar as the server's query (apps/console/src/inbox/inbox-model.ts); the server
 * filters, orders and pages (apps/server/src/projections/requests-query.unit.spec.ts).
 */
const NOW = Date.parse('2026-12-04T12:00:00Z');

describe('the inbox model', () => {
  it('sends only the filters that are set, and the order and page size', () => {
    assert.deepEqual(inboxQuery(NO_FILTER, NOW), { sort: 'deadline', limit: PAGE_SIZE });
    const query = inboxQuery(
      {
        kind: 'approval',
        role: 'approver',
        workflow: 'refund-desk',
        runId: 'run-a',
        mine: true,
        expiring: true,
        search: '  #A202 ',
        sort: 'age',
      },
      NOW,
    );
    assert.deepEqual(query, {
      kind: 'approval',
      role: 'approver',
      workflow: 'refund-desk',
      runId: 'run-a',
      mine: true,
      expiringBefore: new Date(NOW + EXPIRING_SOON_MS).toISOString(),
      q: '#A202',
      sort: 'age',
      limit: PAGE_SIZE,
    });
    assert.equal(EXPIRING_SOON_MS, 15 * 60_000);
    assert.ok(InboxWatchMessage.safeParse(query).success, 'a query the server takes');
    assert.deepEqual(
      inboxQuery({ ...NO_FILTER, search: '   ' }, NOW),
      inboxQuery(NO_FILTER, NOW),
      'a blank search is none',
    );
  });

  it('names each group by the workflow of its requests', () => {
    const r = { runId: 'run-a', workflow: 'refund-desk' } as Parameters<
      typeof runGroups
    >[0][0]['requests'][0];
    assert.deepEqual(
      runGroups([{ runId: 'run-a', requests: [r] }]).map((g) => [g.runId, g.workflow, g.requests.length]),
      [['run-a', 'refund-desk', 1]],
    );
  });

  it('offers each filter value once, sorted, without blanks', () => {
    assert.deepEqual(choices(['review', 'approval', 'escalation', 'approval']), [
      'approval',
      'escalation',
      'review',
    ]);
    assert.deepEqual(choices(['b', undefined, 'a', '', 'b']), ['a', 'b']);
  });
});
