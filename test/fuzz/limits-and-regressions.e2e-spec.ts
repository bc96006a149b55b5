import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_LIMITS } from '@parley/contracts';
import { TEST_USERS, type TestUser } from '@parley/testing';
import { deepJsonText } from './arbitraries';
import { assertCoded4xx, assertUntouched, send, startFuzzTarget, type FuzzTarget } from './harness';

const JSON_TYPE = { 'content-type': 'application/json' };

function connect(t: FuzzTarget, user: TestUser): Promise<Socket> {
  const socket = io(t.server.url, {
    auth: { token: TEST_USERS[user].token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Oversized payloads and floods are cut off; every bug the fuzzers found, as a fixed case. */
describe('fuzz: limits, and the bugs the fuzzers found', () => {
  let t: FuzzTarget;
  const sockets: Socket[] = [];
  before(async () => {
    t = await startFuzzTarget();
  });
  after(async () => {
    for (const s of sockets) s.close();
    await t?.server.dispose();
  });

  it('an HTTP body over 100 KB gets 413 REQUEST.TOO_LARGE on every POST route (was a 500)', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(101 * 1024) });
    for (const path of [
      '/api/runs',
      `/api/runs/${t.runId}/cancel`,
      `/api/runs/${t.runId}/messages`,
      `/api/runs/${t.runId}/handoff`,
      `/api/runs/${t.runId}/fork`,
      `/api/requests/${t.requestId}/decision`,
      `/api/requests/${t.requestId}/claim`,
    ]) {
      const answer = await send(t, 'POST', path, { body: big, headers: JSON_TYPE });
      assert.deepEqual([answer.status, assertCoded4xx(answer, path).code], [413, 'REQUEST.TOO_LARGE'], path);
    }
    await assertUntouched(t, '413');
  });

  it('a socket message over 64 KB closes that connection only; nothing is appended', async () => {
    const big = await connect(t, 'admin');
    const other = await connect(t, 'alice');
    sockets.push(big, other);
    const closed = new Promise<string>((resolve) =>
      big.once('disconnect', (reason) => resolve(String(reason))),
    );
    big.emit('run:message', { runId: t.runId, text: 'x'.repeat(SOCKET_LIMITS.maxMessageBytes + 1) });
    assert.match(await closed, /transport (close|error)/);
    assert.equal((await other.timeout(5_000).emitWithAck('inbox:watch', {})).ok, true);
    await assertUntouched(t, 'oversized socket message');
  });

  it('a flooding socket gets RATE_LIMITED acks; another client is answered quickly; nothing is appended', async () => {
    const flooder = await connect(t, 'admin');
    const other = await connect(t, 'alice');
    sockets.push(flooder, other);
    // bad messages aimed at the real run: each would be refused anyway, the flood is refused first
    const flood = Array.from({ length: 600 }, (_, i) =>
      flooder.timeout(10_000).emitWithAck('run:message', { runId: t.runId, text: '', n: i }),
    );
    const started = performance.now();
    const otherAck = await other.timeout(5_000).emitWithAck('run:watch', { runId: t.runId, afterSeq: 0 });
    const latency = performance.now() - started;
    const acks = (await Promise.all(flood)) as Array<{ ok: boolean; error: { code: string } }>;
    assert.equal(otherAck.ok, true);
    assert.ok(latency < 1_000, `the other client waited ${Math.round(latency)} ms`);
    const limited = acks.filter((a) => a.error?.code === 'RATE_LIMITED').length;
    assert.ok(limited >= 600 - SOCKET_LIMITS.burst - 20, `${limited} of 600 rate-limited`);
    assert.ok(acks.every((a) => !a.ok && /^(RATE_LIMITED|SOCKET\.INVALID_PAYLOAD)$/.test(a.error.code)));
    process.stdout.write(
      `[fuzz] socket flood: 600 messages, ${limited} RATE_LIMITED, other client ${Math.round(latency)} ms\n`,
    );
    await assertUntouched(t, 'flood');
  });

  describe('regressions (inputs the fuzzers found)', () => {
    it('content-encoding that is not supported or not what it says: coded 4xx, not 500', async () => {
      for (const encoding of ['br', 'gzip', 'deflate', 'compress']) {
        const answer = await send(t, 'POST', '/api/runs', {
          body: '{}',
          headers: { ...JSON_TYPE, 'content-encoding': encoding },
        });
        assert.ok([400, 415].includes(answer.status), `${encoding}: ${answer.status}`);
        assertCoded4xx(answer, encoding);
      }
      await assertUntouched(t, 'content-encoding');
    });

    it('a form post does not start a run (was 201); text/plain is refused with 415', async () => {
      for (const type of [
        'application/x-www-form-urlencoded',
        'text/plain',
        'multipart/form-data; boundary=x',
      ]) {
        const answer = await send(t, 'POST', '/api/runs', {
          body: 'workflow=content-pipeline&input=x',
          headers: { 'content-type': type },
        });
        assert.deepEqual(
          [answer.status, assertCoded4xx(answer, type).code],
          [415, 'REQUEST.UNSUPPORTED_MEDIA_TYPE'],
        );
      }
      await assertUntouched(t, 'form post');
    });

    it('an import sent as application/json is refused at once (was a hang)', async () => {
      const answer = await send(t, 'POST', '/api/import', { body: '{"a":1}', headers: JSON_TYPE });
      assert.deepEqual(
        [answer.status, assertCoded4xx(answer, 'import').code],
        [415, 'REQUEST.UNSUPPORTED_MEDIA_TYPE'],
      );
    });

    it('an import with a line "null" or an event nested 5,000 deep: 400 (was 500)', async () => {
      for (const body of [
        '\nnull',
        `{"kind":"parley.export"}\n${deepJsonText('runId', 5_000, 'object').replace('{"runId":', '{"runId":"r","data":')}`,
      ]) {
        const answer = await send(t, 'POST', '/api/import', {
          body,
          headers: { 'content-type': 'application/x-ndjson' },
        });
        assert.deepEqual(
          [answer.status, assertCoded4xx(answer, body.slice(0, 40)).code],
          [400, 'IMPORT.NOT_VERIFIED'],
        );
      }
      await assertUntouched(t, 'import');
    });

    it('a decision payload nested 20,000 deep, on a real open request: 400 naming payload (was 500), REST and socket', async () => {
      const body = `{"decision":"feedback","comment":"c","payload":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
      const answer = await send(t, 'POST', `/api/requests/${t.requestId}/decision`, {
        body,
        headers: JSON_TYPE,
      });
      const error = assertCoded4xx(answer, 'deep payload');
      assert.deepEqual([answer.status, error.code, error.field], [400, 'REQUEST.INVALID_BODY', 'payload']);
      const socket = await connect(t, 'admin');
      sockets.push(socket);
      let payload: unknown = [];
      for (let i = 0; i < 1_000; i++) payload = [payload];
      const ack = await socket.timeout(5_000).emitWithAck('request:decide', {
        requestId: t.requestId,
        decision: 'feedback',
        comment: 'c',
        payload,
      });
      assert.deepEqual(
        [ack.ok, ack.error.code, ack.error.field],
        [false, 'SOCKET.INVALID_PAYLOAD', 'payload'],
      );
      await assertUntouched(t, 'deep payload');
    });

    it('a claim with fields is refused (was claimed, ignoring them); an unknown key is named as the field', async () => {
      const claim = await send(t, 'POST', `/api/requests/${t.requestId}/claim`, {
        body: '{"a":1e999999}',
        headers: JSON_TYPE,
      });
      assert.deepEqual([claim.status, assertCoded4xx(claim, 'claim').field], [400, 'a']);
      const extra = await send(t, 'POST', `/api/runs/${t.runId}/cancel`, {
        body: '{"reason":"r","sneaky":1}',
        headers: JSON_TYPE,
      });
      assert.deepEqual([extra.status, assertCoded4xx(extra, 'cancel').field], [400, 'sneaky']);
      await assertUntouched(t, 'claim');
    });
  });
});
