import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type {
  EventEnvelope,
  InboxChangedPayload,
  InboxCounts,
  RequestSummaryPayload,
  RunTokenPayload,
  SocketError,
  SocketErrorPayload,
} from '@parley/contracts';
import { TEST_USERS, waitFor, type ParleyProcess, type TestUser } from '@parley/testing';

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/** A socket.io client of a test server (WebSocket transport, no automatic reconnection). */
export function socketOf(
  server: ParleyProcess,
  user: TestUser | undefined,
  options: ClientOptions = {},
): Socket {
  return io(server.url, {
    auth: user ? { token: TEST_USERS[user].token } : {},
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 5_000,
    ...options,
  });
}

/** Connect, or fail with the server's refusal. */
export function connected(socket: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => reject(error));
  });
}

/** The `connect_error` of a refused handshake (fails if the socket connects). */
export function refusal(socket: Socket): Promise<Error & { data?: { code: string; message: string } }> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('the socket connected, but a refusal was expected')));
    socket.once('connect_error', (error) =>
      resolve(error as Error & { data?: { code: string; message: string } }),
    );
  });
}

export async function connect(
  server: ParleyProcess,
  user: TestUser | undefined,
  options: ClientOptions = {},
): Promise<Socket> {
  return connected(socketOf(server, user, options));
}

/** An ack as the tests read it: the fields of every message's ack, flattened (see SOCKET_ACKS). */
export interface Reply {
  ok: boolean;
  error: SocketError;
  runId: string;
  headSeq: number;
  replayed: number;
  seq: number;
  watching: boolean;
  requestId: string;
  status: string;
  by: string;
  requests: RequestSummaryPayload[];
  total: number;
  counts: InboxCounts;
  nextCursor?: string;
  asOf: number;
}

/** Send a message and wait for its ack. */
export function ask(socket: Socket, event: string, ...payload: unknown[]): Promise<Reply> {
  return socket.timeout(10_000).emitWithAck(event, ...payload) as Promise<Reply>;
}

export type Received =
  | { kind: 'event'; event: EventEnvelope }
  | { kind: 'token'; token: RunTokenPayload }
  | { kind: 'inbox'; change: InboxChangedPayload }
  | { kind: 'error'; error: SocketErrorPayload };

/** Everything a socket receives, in arrival order. */
export class Recorder {
  readonly received: Received[] = [];

  constructor(readonly socket: Socket) {
    socket.on('run:event', (event: EventEnvelope) => this.received.push({ kind: 'event', event }));
    socket.on('run:token', (token: RunTokenPayload) => this.received.push({ kind: 'token', token }));
    socket.on('inbox:changed', (change: InboxChangedPayload) =>
      this.received.push({ kind: 'inbox', change }),
    );
    socket.on('socket:error', (error: SocketErrorPayload) => this.received.push({ kind: 'error', error }));
  }

  events(runId?: string): EventEnvelope[] {
    return this.received.flatMap((r) =>
      r.kind === 'event' && (!runId || r.event.runId === runId) ? [r.event] : [],
    );
  }

  tokens(runId?: string): RunTokenPayload[] {
    return this.received.flatMap((r) =>
      r.kind === 'token' && (!runId || r.token.runId === runId) ? [r.token] : [],
    );
  }

  inbox(): InboxChangedPayload[] {
    return this.received.flatMap((r) => (r.kind === 'inbox' ? [r.change] : []));
  }

  errors(): SocketErrorPayload[] {
    return this.received.flatMap((r) => (r.kind === 'error' ? [r.error] : []));
  }

  /** Wait for the first event of `runId` matching `match`. */
  event(
    runId: string,
    what: string,
    match: (e: EventEnvelope) => boolean,
    timeoutMs = 20_000,
  ): Promise<EventEnvelope> {
    return waitFor(what, () => this.events(runId).find(match), { timeoutMs });
  }
}

/** Seqs are 1..n: contiguous, in order, no duplicate. */
export function contiguous(events: EventEnvelope[], from = 1): boolean {
  return events.every((e, i) => e.seq === from + i);
}
