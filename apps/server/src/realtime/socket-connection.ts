import { SOCKET_ERROR_CODES, ParleyError, type SocketAckError, type SocketError } from '@parley/contracts';
import type { Socket } from 'socket.io';
import type { Human } from '../auth/identity';
import type { InboxWatchState } from './inbox-watch';
import type { RunWatch } from './run-feed';
import type { TokenBucket } from './token-bucket';

export type AckFn = (reply: unknown) => void;

/** What the gateway keeps per connection; dropped on disconnect. */
export interface Connection {
  socket: Socket;
  human: Human;
  bucket: TokenBucket;
  watches: Map<string, RunWatch>;
  /** Set while the socket watches the inbox: its query and what it was sent. */
  inbox?: InboxWatchState;
  /** The seq of the last `inbox:changed` sent on this connection (0: none yet). */
  inboxSeq: number;
  /** Set while the socket watches the runs list. */
  runs?: boolean;
}

/** The socket.io room of a run's watchers on this instance. */
export const runRoom = (runId: string): string => `run:${runId}`;

export function failure(code: string, message: string, field?: string): SocketAckError {
  return { ok: false, error: { code, message, ...(field ? { field } : {}) } };
}

/** Always answer: the ack, or `socket:error` for a failure without an ack. */
export function answer(
  socket: Socket,
  event: string,
  ack: AckFn | undefined,
  reply: { ok: boolean; error?: SocketError },
  logError: (line: string) => void,
): void {
  try {
    if (ack) ack(reply);
    else if (!reply.ok) socket.emit('socket:error', { event, error: reply.error });
  } catch (error) {
    logError(`could not answer ${event}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A coded error as it is; anything else is logged and answered as `internal`. */
export function toSocketError(event: string, error: unknown, logError: (line: string) => void): SocketError {
  if (error instanceof ParleyError) return error.toJSON();
  logError(`${event}: ${error instanceof Error ? error.stack : String(error)}`);
  return { code: SOCKET_ERROR_CODES.internal, message: 'internal error' };
}
