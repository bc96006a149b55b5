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
    new StartRunCommand({ workflow: 'debate', input: 'x', idempotencyKey: 'k' }, by, 'r1'),
    new StartRunCommand({ workflow: 'debate', input: 'x' }, by, 'r1'),
    new CancelRunCommand('r1', by, 'why'),
    new CancelRunCommand('r1', by),
    new PostHumanMessageCommand('r1', by, 'hello'),
    new OverrideHandoffCommand('r1', by, 'billing', 'wrong desk'),
    new ForkRunCommand('r1', 3, 'note', by, 'correction', 'r2'),
    new ForkRunCommand('r1', 3, 'note', by),
    new DecideRequestCommand('q1', by, { decision: 'approve', comment: 'ok' }),
    new ClaimRequestCommand('q1', by),
    new ExpireRequestCommand('r1', 'q1'),
  ];
  for (const command of commands) {
    it(`${command.constructor.name} survives the trip through JSON as the same command`, () => {
      const wire = encodeCommand(command)!;
      assert.ok(wire, 'routable');
      const back = decodeCommand(wire.type, JSON.parse(JSON.stringify(wire.args)) as unknown[]);
      assert.ok(back instanceof command.constructor);
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(command)));
    });
  }

  it('a command that only runs where it was issued is not encoded', () => {
    assert.equal(encodeCommand(new ResumeRunCommand('r1', 'x')), undefined);
  });

  it('an unknown wire name is refused', () => {
    assert.throws(() => decodeCommand('run.explode', []), /unknown command type/);
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
