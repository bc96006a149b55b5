import { io, type Socket } from 'socket.io-client';
import { ParleyApiError } from './errors';
import type { RestOptions } from './rest';

/**
 * What a watch over socket.io shares: the socket (reconnecting by itself), a `ready` promise for the
 * first answer, `fail` to end the watch with an error, the refusal in an ack as a coded error, and
 * a lost connection reported (a close of our own is not).
 */
export interface WatchSocket {
  socket: Socket;
  ready: Promise<void>;
  resolveReady(): void;
  fail(error: Error): void;
}

export function openWatchSocket(
  options: RestOptions,
  handlers: { onError?: (error: Error) => void; onConnectionLost?: (reason: string) => void },
): WatchSocket {
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined);
  const socket: Socket = io(options.baseUrl, {
    auth: { token: options.token },
    transports: ['websocket'],
    reconnection: true,
  });
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') handlers.onConnectionLost?.(reason);
  });
  const fail = (error: Error): void => {
    rejectReady(error);
    handlers.onError?.(error);
    socket.close();
  };
  return { socket, ready, resolveReady, fail };
}

/** A refused ack (`{ok: false, error}`) as the coded error it is. */
export function refusal(ack: unknown): ParleyApiError {
  const error = (ack as { error?: { code: string; message: string } })?.error;
  return new ParleyApiError(0, error?.code ?? 'SOCKET.ERROR', error?.message ?? 'the watch was refused');
}
