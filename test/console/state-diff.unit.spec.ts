import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateDiff } from '../../apps/console/src/replay/state-diff';

/** What the replay marks as changed between the states at two consecutive events. */
describe('stateDiff', () => {
  const before = {
    status: 'running',
    seq: 3,
    pendingRequests: [] as unknown[],
    transcript: [{ role: 'user', text: 'refund $130' }],
    output: null,
    failure: { code: 'X', message: 'old' },
  };
  const after = {
    status: 'waiting',
    seq: 4,
    pendingRequests: [{ id: 'q1', kind: 'approval', roles: ['approver'] }],
    transcript: [{ role: 'user', text: 'refund $130' }],
    output: null,
  };

  it('marks changed and added leaves with every container that holds them, not what stayed', () => {
    const diff = stateDiff(before, after);
    assert.deepEqual([...diff.changed].sort(), [
      'pendingRequests',
      'pendingRequests.0',
      'pendingRequests.0.id',
      'pendingRequests.0.kind',
      'pendingRequests.0.roles',
      'pendingRequests.0.roles.0',
      'seq',
      'status',
    ]);
    assert.ok(!diff.changed.has('transcript'), 'an equal list is not marked');
    assert.deepEqual(diff.removed, [{ path: 'failure', before: { code: 'X', message: 'old' } }]);
  });

  it('compares lists by position: an item removed from the middle changes what follows', () => {
    const diff = stateDiff({ xs: ['a', 'b', 'c'] }, { xs: ['a', 'c'] });
    assert.deepEqual([...diff.changed].sort(), ['xs', 'xs.1']);
    assert.deepEqual(diff.removed, [{ path: 'xs.2', before: 'c' }]);
  });

  it('finds nothing between equal states, and a leaf turned object is new throughout', () => {
    assert.equal(stateDiff(after, structuredClone(after)).changed.size, 0);
    assert.deepEqual([...stateDiff({ a: null }, { a: { b: 1 } }).changed], ['a', 'a.b'], 'all of it is new');
  });
});
