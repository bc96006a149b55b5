import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { EventIdConflictError, checkEventIds, markGeneratedEventId } from './idempotency';

const posted = (eventId: string, text = 'hello'): NewEvent => ({
  eventId,
  type: 'human-message.posted',
  actor: { kind: 'human', id: 'bob' },
  data: { by: { id: 'bob', role: 'participant' }, text },
});

describe('checkEventIds: ids the producer drew at random are not looked up', () => {
  it('looks up only the unmarked ids; a batch of marked ids alone is new without a lookup', () => {
    const fresh = posted(randomUUID());
    markGeneratedEventId(fresh);
    const fromOutside = posted('decision-key-1');
    const asked: string[][] = [];
    const lookup = (ids: string[]): EventEnvelope[] => {
      asked.push(ids);
      return [];
    };
    assert.deepEqual(checkEventIds('run-1', [fromOutside, fresh], lookup), { kind: 'new' });
    assert.deepEqual(asked, [['decision-key-1']]);
    asked.length = 0;
    assert.deepEqual(checkEventIds('run-1', [fresh], lookup), { kind: 'new' });
    assert.deepEqual(asked, [], 'nothing to look up');
  });

  it('marking changes no verdict: a stored outside id beside a fresh one is still a partial batch', () => {
    const fromOutside = posted('decision-key-2');
    const fresh = posted(randomUUID());
    markGeneratedEventId(fresh);
    const stored = {
      ...fromOutside,
      runId: 'run-1',
      seq: 3,
      eventId: 'decision-key-2',
    } as unknown as EventEnvelope;
    assert.throws(
      () => checkEventIds('run-1', [fromOutside, fresh], () => [stored]),
      (error: unknown) => error instanceof EventIdConflictError,
    );
    // the same id twice in one append is refused whether marked or not
    const twice = posted('x');
    markGeneratedEventId(twice);
    assert.throws(() => checkEventIds('run-1', [twice, posted('x')], () => []), EventIdConflictError);
  });

  it('an unmarked copy of a marked event is looked up (marks belong to the object, not the id)', () => {
    const fresh = posted(randomUUID());
    markGeneratedEventId(fresh);
    const copy = { ...fresh };
    const asked: string[][] = [];
    checkEventIds('run-1', [copy], (ids) => {
      asked.push(ids);
      return [];
    });
    assert.deepEqual(asked, [[fresh.eventId]]);
  });
});
