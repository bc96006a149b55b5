import {
  InboxChangedPayload,
  SOCKET_ACKS,
  type RequestSummaryPayload,
} from '@parley/contracts/socket/socket.schemas';
import { ParleyApiError } from './errors';
import type { RestOptions } from './rest';
import { openWatchSocket, refusal } from './watch-socket';

export type RequestSummary = RequestSummaryPayload;

export interface InboxWatchOptions {
  /** Only the requests open to these roles (default: every role of the token). */
  roles?: string[];
  /**
   * The open requests the user may act on, after every change: the whole list on each
   * (re)connection, then one request at a time as it is opened, claimed, resolved or expired.
   */
  onChange: (requests: RequestSummary[], changed?: RequestSummary) => void;
  /** The watch was refused (a bad token, no right): it is over. */
  onError?: (error: Error) => void;
  /** The connection dropped; the client reconnects by itself and reads the list again. */
  onConnectionLost?: (reason: string) => void;
}

export interface InboxWatch {
  /** The open requests as last seen. */
  readonly requests: RequestSummary[];
  /** Resolves once the first list arrived. */
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * Follow the inbox over socket.io (`inbox:watch`, then `inbox:changed`). The list is read again on
 * every reconnection, so a change missed while disconnected is not lost.
 */
export function watchInbox(options: RestOptions, watch: InboxWatchOptions): InboxWatch {
  let requests: RequestSummary[] = [];
  const { socket, ready, resolveReady, fail } = openWatchSocket(options, watch);
  socket.on('connect', () => {
    socket.emit('inbox:watch', watch.roles ? { roles: watch.roles } : {}, (ack: unknown) => {
      const ok = SOCKET_ACKS['inbox:watch'].safeParse(ack);
      if (ok.success) {
        requests = ok.data.requests;
        watch.onChange(requests);
        return resolveReady();
      }
      fail(refusal(ack));
    });
  });
  socket.on('inbox:changed', (payload: unknown) => {
    const parsed = InboxChangedPayload.safeParse(payload);
    if (!parsed.success) return;
    const { request } = parsed.data;
    const rest = requests.filter((r) => r.id !== request.id);
    requests = request.status === 'open' ? [request, ...rest] : rest;
    watch.onChange(requests, request);
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
    if (error.data?.code) fail(new ParleyApiError(0, error.data.code, error.message));
  });
  return {
    get requests() {
      return requests;
    },
    ready,
    close: () => socket.close(),
  };
}
