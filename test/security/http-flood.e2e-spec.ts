import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpClient, ParleyProcess, TEST_USERS } from '@parley/testing';

/**
 * A flood over REST is cut off (docs/RELIABILITY.md §6): one client over its rate gets coded 429s,
 * costs nothing else (no body parsed, nothing appended), and another client is not slowed by it.
 * A real server process with a low limit (PARLEY_HTTP_RATE_LIMIT=20: 20 requests a second, bursts
 * of 40) so that a test can exceed it.
 */
describe('security: an HTTP flood is cut off', () => {
  let server: ParleyProcess;

  before(async () => {
    server = await ParleyProcess.start({ env: { PARLEY_HTTP_RATE_LIMIT: '20' } });
  });
  after(async () => {
    await server?.dispose();
  });

  it('one client over its rate gets 429 REQUEST.RATE_LIMITED; the others are served; nothing extra is appended', async () => {
    const before = (await server.client('victor').get('/health')).body.lastPosition as number;
    const flooder = server.client('alice');
    // 200 run starts at once from one client: at most its burst (40) gets through
    const flood = Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        flooder.post('/api/runs', { workflow: 'refund-desk', input: `Please refund $20 for order #F${i}` }),
      ),
    );
    const t0 = Date.now();
    const other = await server.client('bob').get('/api/runs?workflow=refund-desk');
    const otherMs = Date.now() - t0;
    const answers = await flood;
    const floodSeconds = (Date.now() - t0) / 1000;
    const started = answers.filter((a) => a.status === 201);
    const limited = answers.filter((a) => a.status === 429);
    assert.equal(
      started.length + limited.length,
      200,
      `only 201 or 429: ${[...new Set(answers.map((a) => a.status))]}`,
    );
    // the burst, plus what the bucket refilled while the flood lasted
    const allowed = 40 + Math.ceil(20 * floodSeconds) + 1;
    assert.ok(
      started.length >= 1 && started.length <= allowed,
      `${started.length} got through (at most ${allowed})`,
    );
    assert.ok(limited.length >= 200 - allowed, `${limited.length} refused`);
    for (const a of limited) {
      assert.equal(a.body.error.code, 'REQUEST.RATE_LIMITED');
      assert.equal(a.headers.get('retry-after'), '1');
    }
    assert.equal(other.status, 200, 'another client is served during the flood');
    assert.ok(otherMs < 5000, `another client waited ${otherMs} ms`);
    // exactly the accepted starts exist: a refused request appended nothing
    const { total } = (await server.client('admin').get('/api/runs?workflow=refund-desk')).body;
    assert.equal(total, started.length);
    const position = (await server.client('victor').get('/health')).body.lastPosition as number;
    assert.ok(position > before, 'the accepted runs were appended');
    // the bucket refills: a second later the flooder is served again
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await flooder.get('/api/runs')).status, 200);
  });

  it("made-up tokens share their address's bucket: 401 until it is empty, then 429", async () => {
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        new HttpClient(server.url, `made-up-token-${i}-0123456789`).get('/api/runs'),
      ),
    );
    const codes = new Set(answers.map((a) => a.status));
    assert.deepEqual([...codes].sort(), [401, 429]);
    assert.ok(answers.filter((a) => a.status === 401).length <= 60);
    // a real user's own bucket is untouched
    assert.equal((await server.client('carol').get('/api/runs')).status, 200);
    assert.ok(TEST_USERS.carol.token);
  });
});
