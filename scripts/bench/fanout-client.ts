/**
 * The fan-out benchmark's WebSocket clients: one `socket.io-client` connection each (WebSocket
 * transport), recording when each event of the run it watches arrives. Used in the benchmark's
 * client processes (fanout-clients-process.ts) and, for the takeover, in the benchmark itself.
 */
import { io, type Socket } from 'socket.io-client';
import type { EventEnvelope } from '@parley/contracts';
import { TEST_USERS, type TestUser } from '@parley/testing';

/** Clients connect as these users, in turn (every role may watch). */
const WATCHERS: TestUser[] = ['victor', 'carol', 'maya', 'alice', 'bob'];

/** What one client saw of one debate. */
export interface ClientResult {
  latencies: number[];
  /** [seq, receive time (Date.now())] per event. */
  received: Array<[number, number]>;
  tokens: number;
}

export class Client {
  runId = '';
  fromSeq = 0;
  latencies: number[] = [];
  received = new Map<number, number>(); // seq -> receive time (Date.now())
  tokens = 0;
  private ended?: () => void;
  done: Promise<void> = Promise.resolve();

  constructor(readonly socket: Socket) {
    socket.on('run:event', (event: EventEnvelope) => {
      const t = Date.now();
      if (event.runId !== this.runId || event.seq <= this.fromSeq) return;
      this.latencies.push(t - Date.parse(event.at));
      this.received.set(event.seq, t);
      if (event.type === 'run.completed' || event.type === 'run.failed' || event.type === 'run.cancelled')
        this.ended?.();
    });
    socket.on('run:token', () => {
      this.tokens += 1;
    });
  }

  async watch(runId: string): Promise<number> {
    this.runId = runId;
    this.latencies = [];
    this.received = new Map();
    this.tokens = 0;
    this.done = new Promise((resolve) => (this.ended = resolve));
    this.fromSeq = Number.MAX_SAFE_INTEGER; // nothing counts until the ack says where live begins
    const ack = (await this.socket.timeout(30_000).emitWithAck('run:watch', { runId })) as {
      ok: boolean;
      headSeq: number;
      error?: unknown;
    };
    if (!ack.ok) throw new Error(`run:watch ${runId}: ${JSON.stringify(ack.error)}`);
    this.fromSeq = ack.headSeq;
    return ack.headSeq;
  }

  result(): ClientResult {
    return { latencies: this.latencies, received: [...this.received], tokens: this.tokens };
  }
}

/** Connect `n` clients to `url` at once; connect time of each and of all. `offset` rotates the users. */
export async function connectClients(
  url: string,
  n: number,
  offset = 0,
): Promise<{ clients: Client[]; allMs: number; each: number[] }> {
  const t0 = Date.now();
  const each: number[] = [];
  const sockets = Array.from({ length: n }, (_, i) =>
    io(url, {
      auth: { token: TEST_USERS[WATCHERS[(offset + i) % WATCHERS.length]].token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 30_000,
    }),
  );
  const clients = sockets.map((s) => new Client(s));
  try {
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            s.once('connect', () => {
              each.push(Date.now() - t0);
              resolve();
            });
            s.once('connect_error', reject);
          }),
      ),
    );
  } catch (error) {
    for (const s of sockets) s.close();
    throw error;
  }
  return { clients, allMs: Date.now() - t0, each };
}
