import type { z } from 'zod';
import {
  InboxChangedPayload,
  SOCKET_ACKS,
  type InboxCounts,
  type InboxWatchMessage,
  type RequestSummaryPayload,
} from '@parley/contracts/socket/socket.schemas';
import { REQUESTS_PAGE_DEFAULT, REQUESTS_PAGE_MAX } from '@parley/contracts/http/api.schemas';
import { inboxGroups, type InboxGroup } from '@parley/contracts/inbox-order';
import { ParleyApiError } from './errors';
import type { RestOptions } from './rest';
import { openWatchSocket, refusal } from './watch-socket';

export type RequestSummary = RequestSummaryPayload;
export type { InboxCounts };
/** The inbox's filters, search, order and page size (the `inbox:watch` message without a cursor). */
export type InboxQuery = Omit<z.infer<typeof InboxWatchMessage>, 'cursor'>;

/** What the watcher holds: the requests of the pages it was sent, in order, and the figures. */
export interface InboxState {
  /** The requests on the pages so far, in the inbox's order (a run's requests together). */
  requests: RequestSummary[];
  /** The same, grouped by run. */
  groups: InboxGroup<RequestSummary>[];
  /** How many open requests match the query (on these pages and after them). */
  total: number;
  counts: InboxCounts;
  /** There are pages after these: `more()` asks for the next. */
  hasMore: boolean;
}

export interface InboxWatchOptions {
  /** The filters, search, order and page size (default: the first 50, nearest deadline first). */
  query?: InboxQuery;
  /**
   * The inbox after every change: on each new query its first page (on a reconnection, one page as
   * long as what was held, up to 500), then as requests of those pages (or coming onto them) are
   * opened, claimed, resolved or expired, as the total and the counts move, and as `more()` brings
   * the next page. `changed` is the request that changed, if one did.
   */
  onChange: (state: InboxState, changed?: RequestSummary) => void;
  /** The watch was refused (a bad token, no right, a bad query): it is over. */
  onError?: (error: Error) => void;
  /** The connection dropped; the client reconnects by itself and reads what it held again. */
  onConnectionLost?: (reason: string) => void;
}

export interface InboxWatch {
  /** The inbox as last seen (empty until the first page). */
  readonly state: InboxState;
  /** The open requests as last seen, in order (`state.requests`). */
  readonly requests: RequestSummary[];
  /** Resolves once the first page arrived. */
  readonly ready: Promise<void>;
  /** Follow another query: its first page replaces what is held. */
  setQuery(query: InboxQuery): void;
  /** Ask for the next page (nothing when there is none or one is on its way). */
  more(): void;
  close(): void;
}

type Ack = z.infer<(typeof SOCKET_ACKS)['inbox:watch']>;
type Change = z.infer<typeof InboxChangedPayload>;

/**
 * Follow the inbox over socket.io (`inbox:watch`, then `inbox:changed`). The server filters, orders
 * and pages; this holds the pages it sent and applies the changes in the order the server made them
 * (a change up to an answer's `asOf` comes before that answer's page, a later one after it). The
 * first page is read again on every reconnection, so a change missed while disconnected is not lost.
 */
export function watchInbox(options: RestOptions, watch: InboxWatchOptions): InboxWatch {
  let query: InboxQuery = watch.query ?? {};
  const held = new Map<string, RequestSummary>();
  let state: InboxState = {
    requests: [],
    groups: [],
    total: 0,
    counts: { all: 0, kinds: {}, workflows: {}, roles: {}, mine: 0 },
    hasMore: false,
  };
  let nextCursor: string | undefined;
  /** The latest message sent: only its answer counts; until it comes, changes wait. */
  let asked = 0;
  let pending: { id: number; more: boolean } | null = null;
  let waiting: Change[] = [];
  let seen = 0;

  const publish = (changed?: RequestSummary): void => {
    const groups = inboxGroups(held.values(), query.sort ?? 'deadline');
    state = {
      requests: groups.flatMap((g) => g.requests),
      groups,
      total: state.total,
      counts: state.counts,
      hasMore: nextCursor !== undefined,
    };
    watch.onChange(state, changed);
  };
  const apply = (change: Change): RequestSummary | undefined => {
    if (change.seq <= seen) return undefined;
    seen = change.seq;
    state = { ...state, total: change.total, counts: change.counts };
    const { request } = change;
    if (!request) return undefined;
    if (change.listed) held.set(request.id, request);
    else held.delete(request.id);
    return request;
  };

  const { socket, ready, resolveReady, fail } = openWatchSocket(options, watch);
  const ask = (more: boolean, atLeast = 0): void => {
    const id = ++asked;
    pending = { id, more };
    const limit = Math.min(REQUESTS_PAGE_MAX, Math.max(query.limit ?? REQUESTS_PAGE_DEFAULT, atLeast));
    const message = more ? { ...query, cursor: nextCursor } : atLeast ? { ...query, limit } : query;
    socket.emit('inbox:watch', message, (ack: unknown) => {
      if (id !== asked) return; // a newer query was sent meanwhile: its answer counts
      const ok = SOCKET_ACKS['inbox:watch'].safeParse(ack);
      if (!ok.success) return fail(refusal(ack));
      pending = null;
      const page: Ack = ok.data;
      const early = waiting;
      waiting = [];
      for (const change of early) if (change.seq <= page.asOf) apply(change);
      if (!more) held.clear();
      for (const r of page.requests) held.set(r.id, r);
      seen = Math.max(seen, page.asOf);
      state = { ...state, total: page.total, counts: page.counts };
      nextCursor = page.nextCursor;
      for (const change of early) if (change.seq > page.asOf) apply(change);
      publish();
      resolveReady();
    });
  };
  socket.on('connect', () => {
    // a new connection counts its changes from 1 again; what was held comes again in one page
    seen = 0;
    waiting = [];
    ask(false, held.size);
  });
  socket.on('inbox:changed', (payload: unknown) => {
    const parsed = InboxChangedPayload.safeParse(payload);
    if (!parsed.success) return;
    if (pending) {
      waiting.push(parsed.data);
      return;
    }
    const changed = apply(parsed.data);
    publish(changed);
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
    if (error.data?.code) fail(new ParleyApiError(0, error.data.code, error.message));
  });
  return {
    get state() {
      return state;
    },
    get requests() {
      return state.requests;
    },
    ready,
    setQuery(next: InboxQuery) {
      query = next;
      if (socket.connected) ask(false);
    },
    more() {
      if (!nextCursor || pending || !socket.connected) return;
      ask(true);
    },
    close: () => socket.close(),
  };
}
