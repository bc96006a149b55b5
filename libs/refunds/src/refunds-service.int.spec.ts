import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefundsClient } from './refunds-client';
import { startRefundsService, type RunningRefundsService } from './refunds-service';

/** The shared refunds service over real HTTP: each idempotency key once, clear refusals. */
describe('refunds service', () => {
  let service: RunningRefundsService;
  before(async () => {
    service = await startRefundsService({ dataDir: ':memory:' });
  });
  after(() => service.close());

  const post = (body: unknown, key?: string) =>
    fetch(`${service.url}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
  const refund = { runId: 'run-1', orderId: 'A123', amount: 50, reason: 'damaged' };

  it('makes a refund once per idempotency key, and answers the same refund to a repeat', async () => {
    const first = await post(refund, 'key-1');
    assert.equal(first.status, 201);
    const made = (await first.json()) as { refund: { refundId: string }; replayed: boolean };
    assert.equal(made.replayed, false);
    const again = await post(refund, 'key-1');
    assert.equal(again.status, 200);
    const replayed = (await again.json()) as { refund: { refundId: string }; replayed: boolean };
    assert.deepEqual(replayed, { refund: made.refund, replayed: true });
    const list = (await (await fetch(`${service.url}/refunds?runId=run-1`)).json()) as { refunds: unknown[] };
    assert.equal(list.refunds.length, 1);
  });

  it('refuses a key reused for another refund, a missing key and a bad body, changing nothing', async () => {
    const reused = await post({ ...refund, amount: 5000 }, 'key-1');
    assert.equal(reused.status, 422);
    assert.equal(((await reused.json()) as { error: { code: string } }).error.code, 'IDEMPOTENCY_KEY_REUSED');
    const missing = await post(refund);
    assert.equal(missing.status, 400);
    assert.deepEqual(((await missing.json()) as { error: { field: string } }).error.field, 'Idempotency-Key');
    const bad = await post({ ...refund, amount: -1 }, 'key-2');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { field: string } }).error.field, 'amount');
    const list = (await (await fetch(`${service.url}/refunds`)).json()) as { refunds: unknown[] };
    assert.equal(list.refunds.length, 1);
  });

  it('the client: concurrent repeats of one key make one refund', async () => {
    const client = new RefundsClient(service.url);
    const row = { idempotencyKey: 'key-3', runId: 'run-3', orderId: 'B7', amount: 20, reason: 'late' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.apply(row)));
    assert.equal(answers.filter((a) => !a.existed).length, 1);
    assert.equal(new Set(answers.map((a) => a.row.refundId)).size, 1);
    assert.equal((await client.forOrder('B7')).length, 1);
    await assert.rejects(new RefundsClient('http://127.0.0.1:1').list(), /did not answer/);
  });
});
