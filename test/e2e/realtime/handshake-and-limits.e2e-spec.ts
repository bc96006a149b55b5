import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, waitFor } from '@parley/testing';
import { ask, connect, connected, Recorder, refusal, socketOf } from './socket-client';

/** The handshake (token, Origin), per-message validation and authorisation, and the limits. */
describe('realtime: handshake, coded acks, limits', () => {
  let server: ParleyProcess;
  const sockets: Array<{ close(): unknown }> = [];
  const track = <T extends { close(): unknown }>(s: T): T => (sockets.push(s), s);

  before(async () => {
    server = await ParleyProcess.start({
      env: { PARLEY_ALLOWED_ORIGINS: 'http://console.example, https://ops.example:8443' },
    });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server.dispose();
  });

  describe('handshake', () => {
    it('refuses a connection without a token', async () => {
      const error = await refusal(track(socketOf(server, undefined)));
      assert.equal(error.data?.code, 'AUTH.MISSING_TOKEN');
    });

    it('refuses a bad token', async () => {
      const error = await refusal(
        track(socketOf(server, undefined, { auth: { token: 'not-a-real-token-at-all' } })),
      );
      assert.equal(error.data?.code, 'AUTH.INVALID_TOKEN');
      assert.equal(error.message, 'the token is not valid');
    });

    it('accepts the token as an Authorization header too (non-browser clients)', async () => {
      const socket = track(
        socketOf(server, undefined, {
          extraHeaders: { authorization: 'Bearer carol-token-0123456789abcdef' },
        }),
      );
      await connected(socket);
      assert.equal(
        (await ask(socket, 'run:message', { runId: 'nope', text: 'hi' })).error.code,
        'RUN.NOT_FOUND',
        'authenticated as a participant',
      );
    });

    it('refuses an Origin that is not allowed, over WebSocket and over polling', async () => {
      const ws = await refusal(
        track(socketOf(server, 'alice', { extraHeaders: { origin: 'http://evil.example' } })),
      );
      assert.match(ws.message, /websocket error/);
      const polling = await refusal(
        track(
          socketOf(server, 'alice', {
            transports: ['polling'],
            extraHeaders: { origin: 'http://evil.example' },
          }),
        ),
      );
      assert.match(polling.message, /xhr poll error/);
      const raw = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: 'http://evil.example' },
      });
      assert.equal(raw.status, 403);
      assert.equal(raw.headers.get('access-control-allow-origin'), null);
    });

    it('accepts the allowed origins, the server’s own origin, and clients without an Origin', async () => {
      for (const origin of ['http://console.example', 'https://ops.example:8443', server.url, undefined]) {
        const socket = track(socketOf(server, 'alice', origin ? { extraHeaders: { origin } } : {}));
        await connected(socket);
        assert.equal((await ask(socket, 'inbox:watch', {})).ok, true, `connected with origin ${origin}`);
      }
      const polling = track(
        socketOf(server, 'alice', {
          transports: ['polling'],
          extraHeaders: { origin: 'http://console.example' },
        }),
      );
      await connected(polling);
      const raw = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: 'http://console.example' },
      });
      assert.equal(raw.status, 200);
      assert.equal(raw.headers.get('access-control-allow-origin'), 'http://console.example');
      await raw.text();
    });
  });

  describe('every message gets a coded ack', () => {
    it('a missing field, a wrong type, an unknown key, an unknown message', async () => {
      const socket = track(await connect(server, 'carol'));
      const missing = await ask(socket, 'run:watch', {});
      assert.deepEqual(
        [missing.ok, missing.error.code, missing.error.field],
        [false, 'SOCKET.INVALID_PAYLOAD', 'runId'],
      );
      const noPayload = await ask(socket, 'run:watch');
      assert.deepEqual(
        [noPayload.ok, noPayload.error.code, noPayload.error.field],
        [false, 'SOCKET.INVALID_PAYLOAD', 'runId'],
      );
      const wrongType = await ask(socket, 'run:watch', { runId: 42 });
      assert.deepEqual([wrongType.error.code, wrongType.error.field], ['SOCKET.INVALID_PAYLOAD', 'runId']);
      const badSeq = await ask(socket, 'run:watch', { runId: 'r', afterSeq: 'three' });
      assert.deepEqual([badSeq.error.code, badSeq.error.field], ['SOCKET.INVALID_PAYLOAD', 'afterSeq']);
      const negative = await ask(socket, 'run:watch', { runId: 'r', afterSeq: -1 });
      assert.deepEqual([negative.error.code, negative.error.field], ['SOCKET.INVALID_PAYLOAD', 'afterSeq']);
      const notObject = await ask(socket, 'run:message', 'hello');
      assert.equal(notObject.error.code, 'SOCKET.INVALID_PAYLOAD');
      const emptyText = await ask(socket, 'run:message', { runId: 'r', text: '' });
      assert.deepEqual([emptyText.error.code, emptyText.error.field], ['SOCKET.INVALID_PAYLOAD', 'text']);
      const badDecision = await ask(socket, 'request:decide', { requestId: 'q', decision: 'maybe' });
      assert.deepEqual(
        [badDecision.error.code, badDecision.error.field],
        ['SOCKET.INVALID_PAYLOAD', 'decision'],
      );
      const extra = await ask(socket, 'request:claim', { requestId: 'q', sneaky: true });
      assert.equal(extra.error.code, 'SOCKET.INVALID_PAYLOAD');
      assert.match(extra.error.message, /sneaky/);
      const roles = await ask(socket, 'inbox:watch', { roles: 'approver' });
      assert.deepEqual([roles.error.code, roles.error.field], ['SOCKET.INVALID_PAYLOAD', 'roles']);
      const unknown = await ask(socket, 'run:explode', { runId: 'r' });
      assert.deepEqual([unknown.ok, unknown.error.code], [false, 'SOCKET.UNKNOWN_EVENT']);
      const proto = await ask(socket, 'constructor', {});
      assert.equal(proto.error.code, 'SOCKET.UNKNOWN_EVENT');
      assert.ok(socket.connected, 'bad payloads do not cost the connection');
    });

    it('unknown runs and requests: the same codes as REST', async () => {
      const socket = track(await connect(server, 'alice'));
      assert.equal((await ask(socket, 'run:watch', { runId: 'no-such-run' })).error.code, 'RUN.NOT_FOUND');
      assert.equal(
        (await ask(socket, 'run:watch', { runId: 'no-such-run', afterSeq: 0 })).error.code,
        'RUN.NOT_FOUND',
      );
      assert.equal(
        (await ask(socket, 'run:message', { runId: 'no-such-run', text: 'hi' })).error.code,
        'RUN.NOT_FOUND',
      );
      assert.equal(
        (await ask(socket, 'run:handoff', { runId: 'no-such-run', to: 'x', reason: 'because' })).error.code,
        'RUN.NOT_FOUND',
      );
      assert.equal(
        (await ask(socket, 'request:decide', { requestId: 'no-such-request', decision: 'approve' })).error
          .code,
        'REQUEST.NOT_FOUND',
      );
      assert.equal(
        (await ask(socket, 'request:claim', { requestId: 'no-such-request' })).error.code,
        'REQUEST.NOT_FOUND',
      );
      const unwatch = await ask(socket, 'run:unwatch', { runId: 'no-such-run' });
      assert.deepEqual(unwatch, { ok: true, runId: 'no-such-run', watching: false });
    });

    it('a viewer may watch but not post, hand off or decide', async () => {
      const run = await server
        .client('carol')
        .post('/api/runs', { workflow: 'debate', input: 'Tabs are better than spaces' });
      assert.equal(run.status, 201);
      const runId: string = run.body.runId;
      const victor = track(await connect(server, 'victor'));
      const watch = await ask(victor, 'run:watch', { runId });
      assert.equal(watch.ok, true);
      const post = await ask(victor, 'run:message', { runId, text: 'let me in' });
      assert.deepEqual([post.ok, post.error.code], [false, 'AUTH.ROLE_REQUIRED']);
      assert.equal(
        (await ask(victor, 'run:handoff', { runId, to: 'skeptic', reason: 'why not' })).error.code,
        'AUTH.ROLE_REQUIRED',
      );
      // the role is checked before the payload, as on REST (403 before 400)
      assert.equal((await ask(victor, 'run:message', {})).error.code, 'AUTH.ROLE_REQUIRED');
      const events = (await server.client('victor').get(`/api/runs/${runId}/events`)).body.events as Array<{
        type: string;
      }>;
      assert.ok(!events.some((e) => e.type === 'human-message.posted'), 'nothing was posted');
    });

    it('a message without an ack callback: the failure comes back as socket:error, and nothing crashes', async () => {
      const socket = track(await connect(server, 'carol'));
      const recorder = new Recorder(socket);
      socket.emit('run:watch', { runId: 7 });
      socket.emit('run:watch');
      socket.emit('no:such:message', 1, 2, 3);
      socket.emit('run:unwatch', { runId: 'fine' }); // succeeds: nothing to say
      const errors = await waitFor('three socket:error events', () =>
        recorder.errors().length >= 3 ? recorder.errors() : undefined,
      );
      // each message is answered on its own (acks and errors are not ordered across messages)
      assert.deepEqual(errors.map((e) => [e.event, e.error.code]).sort(), [
        ['no:such:message', 'SOCKET.UNKNOWN_EVENT'],
        ['run:watch', 'SOCKET.INVALID_PAYLOAD'],
        ['run:watch', 'SOCKET.INVALID_PAYLOAD'],
      ]);
      assert.equal((await ask(socket, 'inbox:watch', {})).ok, true, 'the connection still works');
      assert.equal((await server.client().get('/health')).status < 500, true, 'the server is up');
    });
  });

  describe('limits', () => {
    it('rate-limits a flooding connection with RATE_LIMITED acks, without slowing another client', async () => {
      const flooder = track(await connect(server, 'carol'));
      const other = track(await connect(server, 'alice'));
      const flood = Array.from({ length: 400 }, (_, i) => ask(flooder, 'run:unwatch', { runId: `r${i}` }));
      const started = Date.now();
      const otherAck = await ask(other, 'inbox:watch', {});
      const latency = Date.now() - started;
      const acks = await Promise.all(flood);
      assert.equal(otherAck.ok, true);
      assert.ok(latency < 2_000, `the other client was answered in ${latency} ms during the flood`);
      const limited = acks.filter((a) => !a.ok);
      assert.ok(limited.length >= 200, `${limited.length} of 400 refused`);
      assert.ok(acks.filter((a) => a.ok).length >= 40, 'the burst passes');
      for (const a of limited) assert.equal(a.error.code, 'RATE_LIMITED');
      assert.ok(flooder.connected);
      // the bucket refills
      await waitFor(
        'the flooder is served again',
        async () => (await ask(flooder, 'run:unwatch', { runId: 'again' })).ok,
        { timeoutMs: 5_000, intervalMs: 100 },
      );
    });

    it('a message over the size cap closes that connection only', async () => {
      const big = track(await connect(server, 'carol'));
      const other = track(await connect(server, 'alice'));
      const closed = new Promise<string>((resolve) =>
        big.once('disconnect', (reason) => resolve(String(reason))),
      );
      big.emit('run:message', { runId: 'r', text: 'x'.repeat(100 * 1024) });
      assert.match(await closed, /transport (close|error)/);
      assert.equal((await ask(other, 'inbox:watch', {})).ok, true);
    });

    it('a watcher that disconnects mid-run does not disturb the others', async () => {
      const { body } = await server
        .client('carol')
        .post('/api/runs', { workflow: 'debate', input: 'Cats make better pets than dogs' });
      const leaving = track(await connect(server, 'alice'));
      const staying = track(await connect(server, 'bob'));
      const staysRecorder = new Recorder(staying);
      assert.equal((await ask(leaving, 'run:watch', { runId: body.runId, afterSeq: 0 })).ok, true);
      assert.equal((await ask(staying, 'run:watch', { runId: body.runId, afterSeq: 0 })).ok, true);
      leaving.close();
      await staysRecorder.event(
        body.runId,
        'the floor opens for a human',
        (e) => e.type === 'human-request.opened',
      );
      assert.ok(contiguousFromOne(staysRecorder.events(body.runId).map((e) => e.seq)));
      assert.doesNotMatch(
        server.output.join(''),
        /run feed:|could not answer|ERROR \[Realtime\]/,
        'no delivery error after the disconnect',
      );
    });
  });
});

function contiguousFromOne(seqs: number[]): boolean {
  return seqs.every((s, i) => s === i + 1);
}
