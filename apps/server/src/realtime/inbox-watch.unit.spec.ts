import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inboxKey, type RequestSummaryPayload } from '@parley/contracts';
import { emptyCounts, countRequest } from '../projections/requests-query';
import { inboxPushes, type InboxWatchState } from './inbox-watch';

/** What a request's change pushes to one inbox watcher (apps/server/src/realtime/inbox-watch.ts). */
const at = (minutes: number): string =>
  new Date(Date.parse('2026-12-04T12:00:00Z') + minutes * 60_000).toISOString();
const request = (id: string, over: Partial<RequestSummaryPayload> = {}): RequestSummaryPayload => ({
  id,
  runId: `run-${id}`,
  workflow: 'refund-desk',
  kind: 'approval',
  status: 'open',
  title: `Request ${id}`,
  ask: 'Approve?',
  roles: ['approver'],
  createdAt: at(0),
  deadline: null,
  ...over,
});

/** A watch of approvals, oldest first, that was sent r1 and r2 (r3 is past its page). */
function watching(all: RequestSummaryPayload[]): InboxWatchState {
  const counts = emptyCounts();
  for (const r of all) countRequest(counts, r, 'alice', 1);
  return {
    key: '',
    query: { kind: 'approval', sort: 'age' },
    shown: new Set(['r1', 'r2']),
    boundary: inboxKey(all[1], 'age'),
    total: all.length,
    counts,
  };
}

describe('inbox pushes', () => {
  const r1 = request('r1', { createdAt: at(1) });
  const r2 = request('r2', { createdAt: at(2) });
  const r3 = request('r3', { createdAt: at(3) });
  const ofRun = (runs: RequestSummaryPayload[]) => (runId: string) => runs.filter((r) => r.runId === runId);
  const context = { me: 'alice', ofRun: ofRun([r1, r2, r3]) };

  it('a request on the page that changes is pushed, listed or not', () => {
    const watch = watching([r1, r2, r3]);
    const claimed = { ...r1, claimedBy: 'bob' };
    assert.deepEqual(inboxPushes(watch, claimed, r1, context), [{ request: claimed, listed: true }]);
    const resolved = { ...claimed, status: 'resolved' as const };
    assert.deepEqual(inboxPushes(watch, resolved, claimed, context), [{ request: resolved, listed: false }]);
    assert.equal(watch.shown.has('r1'), false);
    assert.deepEqual([watch.total, watch.counts.all, watch.counts.kinds.approval], [2, 2, 2]);
  });

  it('past the page: nothing when no count moves, the counts alone when one does', () => {
    const watch = watching([r1, r2, r3]);
    assert.deepEqual(inboxPushes(watch, { ...r3, claimedBy: 'bob' }, r3, context), []);
    assert.deepEqual(inboxPushes(watch, { ...r3, claimedBy: 'alice' }, r3, context), [{}], 'mine moved');
    assert.equal(watch.counts.mine, 1);
    const r4 = request('r4', { createdAt: at(4) });
    assert.deepEqual(inboxPushes(watch, r4, undefined, { ...context, ofRun: ofRun([r4]) }), [{}]);
    assert.equal(watch.total, 4);
    assert.equal(watch.shown.has('r4'), false);
  });

  it('a request that sorts onto the page comes onto it, with the rest of its run', () => {
    const watch = watching([r1, r2, r3]);
    const early = request('r0', { createdAt: at(0), runId: 'run-x' });
    const sibling = request('r9', { createdAt: at(9), runId: 'run-x' });
    const pushes = inboxPushes(watch, early, undefined, { ...context, ofRun: ofRun([early, sibling]) });
    assert.deepEqual(pushes, [
      { request: early, listed: true },
      { request: sibling, listed: true },
    ]);
    // a later request of a run on the page joins it, though it sorts past the page
    const late = request('r8', { createdAt: at(8), runId: 'run-r2' });
    assert.deepEqual(inboxPushes(watch, late, undefined, { ...context, ofRun: ofRun([r2, late]) }), [
      { request: late, listed: true },
    ]);
  });

  it('a watch that holds everything (no boundary) is sent every request that matches; none that does not', () => {
    const watch = { ...watching([r1, r2]), boundary: undefined };
    const r5 = request('r5', { createdAt: at(50) });
    assert.deepEqual(inboxPushes(watch, r5, undefined, { ...context, ofRun: ofRun([r5]) }), [
      { request: r5, listed: true },
    ]);
    const review = request('r6', { kind: 'review' });
    assert.deepEqual(
      inboxPushes(watch, review, undefined, { ...context, ofRun: ofRun([review]) }),
      [{}],
      'not listed (another kind): its counts only',
    );
    assert.equal(watch.counts.kinds.review, 1);
    assert.equal(watch.total, 3, 'the total counts what matches');
  });
});
