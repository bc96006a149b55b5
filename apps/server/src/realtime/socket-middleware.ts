import { SOCKET_CLIENT_MESSAGES, SOCKET_ERROR_CODES, SOCKET_LIMITS } from '@parley/contracts';
import type { Event } from 'socket.io';
import { answer, failure, type AckFn, type Connection } from './socket-connection';

/**
 * What every packet of a connection passes before its handler: the rate limit, then unknown names.
 * A refused packet is answered (its ack, or `socket:error`) and goes no further.
 */
export function packetGuard(
  conn: Connection,
  logError: (line: string) => void,
): (packet: Event, next: (err?: Error) => void) => void {
  const { socket } = conn;
  return (packet, next) => {
    const [name, ...args] = packet;
    const event = String(name);
    const ack = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as AckFn) : undefined;
    if (!conn.bucket.take()) {
      answer(
        socket,
        event,
        ack,
        failure(
          SOCKET_ERROR_CODES.rateLimited,
          `more than ${SOCKET_LIMITS.ratePerSecond} messages a second (burst ${SOCKET_LIMITS.burst}): slow down`,
        ),
        logError,
      );
      return;
    }
    if (!Object.hasOwn(SOCKET_CLIENT_MESSAGES, event)) {
      answer(
        socket,
        event,
        ack,
        failure(
          SOCKET_ERROR_CODES.unknownEvent,
          `no message "${event}"; known: ${Object.keys(SOCKET_CLIENT_MESSAGES).join(', ')}`,
          'event',
        ),
        logError,
      );
      return;
    }
    next();
  };
}
