import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runIdForIdempotencyKey } from './ownership';

/**
 * Run ids derived from idempotency keys are stored in logs and returned to clients: they must never
 * change. These pairs were computed with the hand-written RFC 9562 v5 that the `uuid` package replaced.
 */
describe('run ids of idempotency keys', () => {
  it('are the same ids as before, for ASCII and non-ASCII keys', () => {
    assert.deepEqual(
      [
        runIdForIdempotencyKey('alice', 'k1'),
        runIdForIdempotencyKey('carol', 'order-A123'),
        runIdForIdempotencyKey('bob', 'clé-ü-🙂'),
      ],
      [
        'efc6a4d1-8d36-5bcc-ad3e-ed2f510429cb',
        '267cd05d-d2b2-58fd-993a-de9875891b22',
        '5f0c5ba6-2f3d-50a0-9fa2-be5bcfdac831',
      ],
    );
  });

  it('take any JSON string as a key: a lone surrogate is encoded as U+FFFD, as UTF-8 always did', () => {
    assert.equal(runIdForIdempotencyKey('alice', '\udfff'), runIdForIdempotencyKey('alice', '\ufffd'));
  });
});
