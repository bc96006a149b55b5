import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForkRunCommand } from '../audit/commands/audit-commands';
import {
  ClaimRequestCommand,
  DecideRequestCommand,
  ExpireRequestCommand,
} from '../hitl/commands/request-commands';
import {
  CancelRunCommand,
  OverrideHandoffCommand,
  PostHumanMessageCommand,
  RetryRunCommand,
  ResumeRunCommand,
} from '../runs/commands/run-commands';
import { StartRunCommand } from '../runs/commands/start-run.command';
import { decodeCommand, encodeCommand } from './command-codecs';
import { wireErrorToError } from './kafka-cluster';
import { partitionOf, runIdForIdempotencyKey, uuidV5 } from './ownership';
import { ForbiddenError, ParleyError } from '@parley/contracts';

const by = { id: 'alice', roles: ['approver'], kind: 'human' as const };

describe('cluster: ids and partitions', () => {
  it('uuidV5 gives the RFC test vector', () => {
    assert.equal(
      uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('a human and an idempotency key always name the same run; another human or key, another run', () => {
    const id = runIdForIdempotencyKey('alice', 'k1');
    assert.equal(runIdForIdempotencyKey('alice', 'k1'), id);
    assert.notEqual(runIdForIdempotencyKey('bob', 'k1'), id);
    assert.notEqual(runIdForIdempotencyKey('alice', 'k2'), id);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('partitionOf is stable, in range, and spreads run ids', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const p = partitionOf(`run-${i}`, 12);
      assert.ok(p >= 0 && p < 12);
      assert.equal(partitionOf(`run-${i}`, 12), p);
      seen.add(p);
    }
    assert.equal(seen.size, 12);
  });
});

describe('cluster: command codecs', () => {
  const commands = [
    new StartRunCommand({ body: { workflow: 'debate', input: 'x', idempotencyKey: 'k' }, runId: 'r1' }, by),
    new StartRunCommand({ body: { workflow: 'debate', input: 'x' }, runId: 'r1' }, by),
    new CancelRunCommand({ runId: 'r1', reason: 'why' }, by),
    new CancelRunCommand({ runId: 'r1' }, by),
    new RetryRunCommand({ runId: 'r1', reason: 'the model is back' }, by),
    new PostHumanMessageCommand({ runId: 'r1', text: 'hello' }, by),
    new OverrideHandoffCommand({ runId: 'r1', to: 'billing', reason: 'wrong desk' }, by),
    new ForkRunCommand({ runId: 'r1', atSeq: 3, note: 'note', message: 'correction', newRunId: 'r2' }, by),
    new ForkRunCommand({ runId: 'r1', atSeq: 3, note: 'note' }, by),
    new DecideRequestCommand({ requestId: 'q1', decision: 'approve', comment: 'ok' }, by),
    new ClaimRequestCommand({ requestId: 'q1' }, by),
    new ExpireRequestCommand({ runId: 'r1', requestId: 'q1' }, by),
  ];
  for (const command of commands) {
    it(`${command.constructor.name} survives the trip through JSON as the same command`, () => {
      const wire = encodeCommand(command)!;
      assert.ok(wire, 'routable');
      const { input, by: who } = JSON.parse(JSON.stringify(wire)) as { input: unknown; by: unknown };
      const back = decodeCommand(wire.type, input, who);
      assert.ok(back instanceof command.constructor);
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(command)));
    });
  }

  it('a command that only runs where it was issued is not encoded', () => {
    assert.equal(encodeCommand(new ResumeRunCommand('r1', 'x')), undefined);
  });

  it('an unknown wire name is refused', () => {
    assert.throws(() => decodeCommand('run.explode', {}, by), /unknown command type/);
  });

  it("a record whose input or identity does not parse with its command's schema is refused, naming the field", () => {
    assert.throws(
      () => decodeCommand('run.handoff', { runId: 'r1', to: 'billing' }, by),
      (error: unknown) =>
        error instanceof ParleyError && error.code === 'REQUEST.INVALID_BODY' && error.field === 'reason',
    );
    assert.throws(
      () => decodeCommand('run.cancel', { runId: 'r1' }, { id: 'bob' }),
      (error: unknown) => error instanceof ParleyError && error.field === 'by.roles',
    );
  });

  it('a coded error comes back with its code, kind, field and details; anything else as an internal error', () => {
    const original = new ForbiddenError('REQUEST.FOUR_EYES', 'four-eyes', { requestId: 'q1' });
    const back = wireErrorToError({ ...original.toJSON(), kind: original.kind });
    assert.ok(back instanceof ParleyError);
    assert.deepEqual(
      [back.code, back.kind, back.message, back.toJSON()],
      [original.code, 'forbidden', original.message, original.toJSON()],
    );
    const internal = wireErrorToError({ code: 'INTERNAL', message: 'internal error', kind: 'internal' });
    assert.ok(!(internal instanceof ParleyError));
  });
});
