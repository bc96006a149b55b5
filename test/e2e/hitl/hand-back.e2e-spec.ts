import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyClient } from '@parley/client';
import { ParleyProcess, TEST_USERS } from '@parley/testing';
import { assertError, events, startRun, typesOf, waitForRequest } from '../patterns/helpers';

/** A claimed request handed back (`POST /api/requests/:id/release`): by its claimer or an admin only. */
describe('handing a claimed request back', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  after(async () => {
    await server?.dispose();
  });

  it('the claimer or an admin hands it back; anyone entitled may claim it again; nobody else may', async () => {
    const alice = server.client('alice');
    const bob = server.client('bob');
    const runId = await startRun(server.client('carol'), 'refund-desk', 'Please refund $700 for order #A777');
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'escalation', 'the escalation');

    // nobody holds it: a hand-back records nothing
    const noop = await alice.post(`/api/requests/${request.id}/release`);
    assert.equal(noop.status, 200, JSON.stringify(noop.body));
    assert.deepEqual(noop.body, { status: 'released', requestId: request.id });
    assert.ok(!typesOf(await events(alice, runId)).includes('human-request.released'));

    assert.equal((await alice.post(`/api/requests/${request.id}/claim`)).status, 200);
    assertError(await bob.post(`/api/requests/${request.id}/release`), 409, 'REQUEST.CLAIMED_BY_OTHER');
    assertError(
      await alice.post(`/api/requests/${request.id}/release`, { a: 1 }),
      400,
      'REQUEST.INVALID_BODY',
      'a',
    );

    // the typed client: alice hands it back, the inbox shows it nobody's, bob claims it
    const parley = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.alice.token });
    assert.deepEqual(await parley.release(request.id), { status: 'released', requestId: request.id });
    assert.equal((await parley.request(request.id)).claimedBy, null);
    const listed = (await parley.requests({ runId })).find((r) => r.id === request.id);
    assert.equal(listed?.claimedBy, undefined);
    assert.equal((await bob.post(`/api/requests/${request.id}/claim`)).status, 200);

    // an admin may hand back anyone's claim
    const admin = await server.client('admin').post(`/api/requests/${request.id}/release`);
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    const log = await events(alice, runId);
    const released = log.filter((e) => e.type === 'human-request.released');
    assert.deepEqual(
      released.map((e) => e.data.by),
      [
        { id: 'alice', role: 'approver' },
        { id: 'root', role: 'admin' },
      ],
    );
    const audit = (await alice.get(`/api/runs/${runId}/audit`)).body;
    assert.deepEqual(
      audit.actions
        .filter((a: { type: string }) => a.type.startsWith('human-request.'))
        .map((a: { type: string; by: { id: string } }) => `${a.by.id} ${a.type}`),
      [
        'alice human-request.claimed',
        'alice human-request.released',
        'bob human-request.claimed',
        'root human-request.released',
      ],
    );

    // once decided, there is nothing to hand back
    await parley.decide(request.id, { decision: 'reject', comment: 'no' });
    assertError(await alice.post(`/api/requests/${request.id}/release`), 409, 'REQUEST.CLOSED');
  });
});
