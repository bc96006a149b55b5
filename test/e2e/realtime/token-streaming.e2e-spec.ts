import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ModelProxy, ParleyProcess, runInStatus, waitFor } from '@parley/testing';
import type { Socket } from 'socket.io-client';
import { ask, connect, Recorder } from './socket-client';

const INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';

/**
 * A model call streams only when someone watches the run's tokens as it begins: a run nobody watches
 * asks its model for whole answers (cheaper for the server); once a socket watches it, its next
 * calls stream and the watcher gets `run:token`. The real server, the real openai SDK, a proxy in
 * front of the offline model that records what each completion asked for.
 */
describe('token streaming only for watched runs', () => {
  let model: OfflineModelServer;
  let proxy: ModelProxy;
  let server: ParleyProcess;
  let socket: Socket | undefined;

  before(async () => {
    model = await startOfflineModelServer({ tokenLatencyMs: 2 });
    proxy = await ModelProxy.start(model.url);
    server = await ParleyProcess.start({ env: { OPENAI_BASE_URL: proxy.url, OPENAI_API_KEY: 'test-key' } });
  });
  after(async () => {
    socket?.close();
    await server?.dispose();
    await proxy?.close();
    await model?.close();
  });

  const openRequest = async (runId: string, not?: string): Promise<string> => {
    let id: string | undefined;
    await waitFor('a review is open', async () => {
      const { body } = await server.client('alice').get('/api/requests?status=open');
      id = (body.requests as Array<{ id: string; runId: string }>).find(
        (r) => r.runId === runId && r.id !== not,
      )?.id;
      return id;
    });
    return id!;
  };

  it('an unwatched call is asked whole; a watched one streams, and its tokens reach the watcher', async () => {
    const started = await server
      .client('carol')
      .post('/api/runs', { workflow: 'content-pipeline', input: INPUT });
    assert.equal(started.status, 201);
    const runId = started.body.runId as string;
    await runInStatus(server.client('carol'), runId, 'waiting');
    assert.equal(proxy.calls.length, 1, 'the writer was asked once');
    assert.equal(proxy.calls[0].body.stream, false, 'nobody watched the run: the whole answer');

    socket = await connect(server, 'carol');
    const recorder = new Recorder(socket);
    assert.equal((await ask(socket, 'run:watch', { runId, afterSeq: 0 })).ok, true);
    const first = await openRequest(runId);
    const decided = await server
      .client('alice')
      .post(`/api/requests/${first}/decision`, { decision: 'approve' });
    assert.equal(decided.status, 200);
    await openRequest(runId, first); // the editor answered, the second review is open
    assert.equal(proxy.calls.length, 2);
    assert.equal(proxy.calls[1].body.stream, true, 'a socket watched the run: streamed');
    await waitFor('the editor tokens reached the watcher', () =>
      recorder.tokens(runId).some((t) => t.agent === 'editor'),
    );
    assert.equal(
      recorder.tokens(runId).filter((t) => t.agent === 'writer').length,
      0,
      'no tokens of the call asked whole',
    );
  });
});
