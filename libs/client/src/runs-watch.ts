import { RunsChangedPayload, SOCKET_ACKS } from '@parley/contracts/socket/socket.schemas';
import type { RunSummary } from '@parley/contracts/http/responses';
import { ParleyApiError } from './errors';
import type { RestOptions } from './rest';
import { openWatchSocket, refusal } from './watch-socket';

export interface RunsWatchOptions {
  /**
   * Runs that started or changed, batched by the server (every 200 ms at most). Called with `[]`
   * once per (re)connection: a change may have been missed meanwhile, read the page again.
   */
  onChange: (runs: RunSummary[]) => void;
  /** The watch was refused (a bad token, no right): it is over. */
  onError?: (error: Error) => void;
  /** The connection dropped; the client reconnects by itself. */
  onConnectionLost?: (reason: string) => void;
}

export interface RunsWatch {
  /** Resolves once the server acknowledged the watch. */
  readonly ready: Promise<void>;
  close(): void;
}

/** Follow the runs list over socket.io (`runs:watch`, then `runs:changed`). */
export function watchRuns(options: RestOptions, watch: RunsWatchOptions): RunsWatch {
  const { socket, ready, resolveReady, fail } = openWatchSocket(options, watch);
  socket.on('connect', () => {
    socket.emit('runs:watch', {}, (ack: unknown) => {
      if (SOCKET_ACKS['runs:watch'].safeParse(ack).success) {
        watch.onChange([]);
        return resolveReady();
      }
      fail(refusal(ack));
    });
  });
  socket.on('runs:changed', (payload: unknown) => {
    const parsed = RunsChangedPayload.safeParse(payload);
    if (parsed.success) watch.onChange(parsed.data.runs);
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
    if (error.data?.code) fail(new ParleyApiError(0, error.data.code, error.message));
  });
  return { ready, close: () => socket.close() };
}
