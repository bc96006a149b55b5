import type { EventEnvelope } from '@parley/contracts/envelope';
import { SOCKET_ACKS } from '@parley/contracts/socket/socket.schemas';
import { ParleyApiError, ParleyConnectionError } from './errors';
import type { RestOptions } from './rest';
import { openWatchSocket, refusal } from './watch-socket';

export interface WatchOptions {
  /** Deliver the events after this seq (0: from the first). Default 0. */
  afterSeq?: number;
  /** Each event once, in seq order, across reconnects. */
  onEvent: (event: EventEnvelope) => void;
  /** Streamed tokens while an agent speaks (never stored; the final message comes as an event). */
  onToken?: (token: { agent: string; delta: string }) => void;
  /**
   * The watch is over with an error: refused (`ParleyApiError`: an unknown run, no right, a bad
   * token) or, with `retryFirstConnection: false`, a server that could not be reached at the start
   * (`ParleyConnectionError`).
   */
  onError?: (error: Error) => void;
  /** The connection dropped; the client reconnects by itself and resumes after `lastSeq`. */
  onConnectionLost?: (reason: string) => void;
  /** Every (re)connection's catch-up is done: the watch is live again. */
  onLive?: () => void;
  /**
   * Keep trying when the very first connection fails (default true, as socket.io does). A command
   * line tool sets it false to report an unreachable server at once.
   */
  retryFirstConnection?: boolean;
}

export interface RunWatch {
  /** The seq of the last event delivered. */
  readonly lastSeq: number;
  /** Resolves after the first catch-up: every stored event up to the head was delivered. */
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * Follow one run over socket.io. On every (re)connection it asks for the events after the last one it
 * delivered, so a dropped connection loses nothing and repeats nothing; socket.io reconnects by itself
 * with backoff.
 */
export function watchRun(options: RestOptions, runId: string, watch: WatchOptions): RunWatch {
  let lastSeq = watch.afterSeq ?? 0;
  const { socket, ready, resolveReady, fail } = openWatchSocket(options, watch);
  socket.on('run:event', (event: EventEnvelope) => {
    if (event.runId !== runId || event.seq <= lastSeq) return; // a repeat after a reconnect
    lastSeq = event.seq;
    watch.onEvent(event);
  });
  socket.on('run:token', (token: { runId: string; agent: string; delta: string }) => {
    if (token.runId === runId) watch.onToken?.({ agent: token.agent, delta: token.delta });
  });
  let connected = false;
  socket.on('connect', () => {
    connected = true;
    socket.emit('run:watch', { runId, afterSeq: lastSeq }, (ack: unknown) => {
      const ok = SOCKET_ACKS['run:watch'].safeParse(ack);
      if (ok.success) {
        watch.onLive?.();
        return resolveReady();
      }
      fail(refusal(ack));
    });
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
    // The server's middleware refused the handshake (a bad token): retrying will not help.
    if (error.data?.code) return fail(new ParleyApiError(0, error.data.code, error.message));
    if (!connected && watch.retryFirstConnection === false)
      return fail(new ParleyConnectionError(options.baseUrl, error.message));
    if (!socket.active) fail(error);
  });
  return {
    get lastSeq() {
      return lastSeq;
    },
    ready,
    close: () => socket.close(),
  };
}
