import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ParleyClient } from '@parley/client';
import {
  RUNS_PAGE,
  prefetchFirstRequests,
  prefetchPaths,
  prefetchingFetch,
} from '../../apps/console/src/prefetch';

/**
 * The console's page-load prefetch (apps/console/src/prefetch.ts): the URLs it sends are the ones the
 * typed client asks for (else it would prefetch for nothing), an answer is handed out once, to the
 * same token, and anything else goes to the network. A real HTTP server counts the requests.
 */
describe('console prefetch of the first requests', () => {
  let server: Server;
  let origin: string;
  const seen: Array<{ url: string; auth: string | undefined }> = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/me') return res.end(JSON.stringify({ id: 'alice', roles: ['approver'] }));
      if (req.url?.startsWith('/api/runs?'))
        return res.end(JSON.stringify({ runs: [], total: seen.length, nextCursor: undefined }));
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('prefetches who is signed in always, the first page of runs on the runs list only', () => {
    const runs = `/api/runs?limit=${RUNS_PAGE}`;
    for (const hash of ['', '#', '#/', '#/runs', '#/runs/'])
      assert.deepEqual(prefetchPaths(hash), ['/api/me', runs]);
    for (const hash of ['#/runs/abc', '#/inbox', '#/replay/abc'])
      assert.deepEqual(prefetchPaths(hash), ['/api/me'], hash);
  });

  it('the client takes the prefetched answers (no second request), parsed by its schemas; another token asks afresh', async () => {
    seen.length = 0;
    prefetchFirstRequests(origin, '#/runs', 'tok-1');
    assert.deepEqual(
      seen.map((s) => s.url),
      [],
      'sent, not yet arrived',
    );
    const client = new ParleyClient({ baseUrl: origin, token: 'tok-1', fetch: prefetchingFetch() });
    const [me, page] = await Promise.all([client.me(), client.runsPage({ limit: RUNS_PAGE })]);
    assert.deepEqual(me, { id: 'alice', roles: ['approver'] });
    assert.deepEqual(page.runs, []);
    assert.deepEqual(
      seen.map((s) => [s.url, s.auth]),
      [
        ['/api/me', 'Bearer tok-1'],
        [`/api/runs?limit=${RUNS_PAGE}`, 'Bearer tok-1'],
      ],
      'one request each: the prefetched ones',
    );
    // once only: the next call goes to the server
    await client.me();
    assert.equal(seen.length, 3);

    // a prefetch for another token is not handed to this one
    prefetchFirstRequests(origin, '#/inbox', 'tok-2');
    await client.me();
    assert.deepEqual(
      seen.slice(3).map((s) => s.auth),
      ['Bearer tok-2', 'Bearer tok-1'],
    );
  });

  it('no token, no prefetch', async () => {
    seen.length = 0;
    prefetchFirstRequests(origin, '#/runs', null);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 0);
  });
});
