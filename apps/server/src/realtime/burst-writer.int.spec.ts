import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { waitFor } from '@parley/testing';
import { BurstWriter } from './burst-writer';

/**
 * BurstWriter against a real socket.io server and real socket.io-client connections (WebSocket):
 * what a burst holds is delivered whole, in order, to every client, and the TCP writes are counted
 * (a burst of N packets is one write per socket, not N).
 */
describe('BurstWriter (real socket.io server and clients)', () => {
  const CLIENTS = 40;
  let http: HttpServer;
  let server: Server;
  let url: string;
  const clients: ClientSocket[] = [];
  const serverSockets: Socket[] = [];

  before(async () => {
    http = createServer();
    server = new Server(http, { transports: ['websocket'] });
    server.on('connection', (socket) => {
      serverSockets.push(socket);
      void socket.join('room');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    for (let i = 0; i < CLIENTS; i++)
      clients.push(connect(url, { transports: ['websocket'], forceNew: true }));
    await waitFor('every client connected and in the room', () => serverSockets.length === CLIENTS);
  });

  after(async () => {
    for (const c of clients) c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Count the write syscalls (writev or write) of the server's TCP sockets from now on. */
  function spyWrites(): { count: () => number; restore: () => void } {
    let writes = 0;
    const restore: Array<() => void> = [];
    for (const s of serverSockets) {
      const tcp = (s.conn as unknown as { transport: { socket: { _socket: Record<string, unknown> } } })
        .transport.socket._socket;
      const handle = tcp._handle as Record<string, (...args: unknown[]) => unknown>;
      for (const name of ['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String']) {
        const original = handle[name];
        if (typeof original !== 'function') continue;
        handle[name] = function (this: unknown, ...args: unknown[]) {
          writes += 1;
          return original.apply(this, args);
        };
        restore.push(() => (handle[name] = original));
      }
    }
    return { count: () => writes, restore: () => restore.forEach((r) => r()) };
  }

  /** Emit `n` packets to the room in one go (each held when `writer` is given); returns the writes made. */
  async function burst(writer: BurstWriter | undefined, n: number, tag: string): Promise<number> {
    const received = clients.map(() => [] as number[]);
    const listeners = clients.map((c, i) => {
      const listener = (payload: { tag: string; i: number }) => {
        if (payload.tag === tag) received[i].push(payload.i);
      };
      c.on('burst', listener);
      return listener;
    });
    const spy = spyWrites();
    try {
      for (let i = 0; i < n; i++) {
        writer?.hold(serverSockets);
        server.to('room').emit('burst', { tag, i });
      }
      await waitFor(`every client got the ${n} packets of ${tag}`, () =>
        received.every((r) => r.length === n),
      );
    } finally {
      spy.restore();
      clients.forEach((c, i) => c.off('burst', listeners[i]));
    }
    for (const r of received)
      assert.deepEqual(
        r,
        Array.from({ length: n }, (_, i) => i),
        'in order, once each',
      );
    return spy.count();
  }

  it('delivers a held burst whole and in order to every client, in one write per socket', async (t) => {
    const writer = new BurstWriter();
    await burst(writer, 5, 'warm-up');
    const before = writer.stats.flushed;
    const writes = await burst(writer, 8, 'held');
    t.diagnostic(`held: ${writes} writes for 8 packets to ${CLIENTS} sockets`);
    assert.equal(writer.stats.flushed - before, CLIENTS, 'each socket flushed once');
    assert.ok(
      writes <= CLIENTS,
      `at most one write per socket during the burst (${writes} for ${CLIENTS} sockets)`,
    );
  });

  it('without it, the same burst takes more writes (the spy counts them: the check above can fail)', async (t) => {
    const writes = await burst(undefined, 8, 'plain');
    t.diagnostic(`not held: ${writes} writes for 8 packets to ${CLIENTS} sockets`);
    assert.ok(
      writes > CLIENTS,
      `more than one write per socket without a hold (${writes} for ${CLIENTS} sockets)`,
    );
  });

  it('a socket closed during a hold with packets queued still closes; the others get everything', async () => {
    const writer = new BurstWriter();
    const leaving = clients.pop()!;
    const leavingServer = serverSockets.pop()!;
    const closed = new Promise<void>((resolve) => leaving.once('disconnect', () => resolve()));
    writer.hold([...serverSockets, leavingServer]);
    leavingServer.emit('burst', { tag: 'last words', i: 0 }); // queued in the held socket
    leavingServer.disconnect(true); // engine.io closes once that buffer has drained
    await burst(writer, 4, 'after-close');
    // promptly: without its flush, only the heartbeat's timeout (45 s) would close it
    await waitFor(
      'the server side of the closed socket is closed',
      () => leavingServer.conn.readyState === 'closed',
      {
        timeoutMs: 3000,
      },
    );
    await closed;
    leaving.close();
  });
});
