import {
  REQUESTS_PAGE_DEFAULT,
  ValidationError,
  type EventEnvelope,
  type SocketAckOk,
  type SocketClientMessageName,
  type SocketClientMessages,
} from '@parley/contracts';
import { hasRole, type Human } from '../auth/identity';
import type { CommandRouter } from '../cluster/command-router';
import { ClaimRequestCommand, DecideRequestCommand } from '../hitl/commands/request-commands';
import type { RequestSummary, RunsProjection } from '../projections/runs.projection';
import { OverrideHandoffCommand, PostHumanMessageCommand } from '../runs/commands/run-commands';
import type { RunFeed } from './run-feed';
import { copyCounts } from './inbox-watch';
import { runRoom, type Connection } from './socket-connection';

/** What the handlers work with. */
export interface HandlerDeps {
  feed: RunFeed;
  commands: CommandRouter;
  projection: RunsProjection;
  /**
   * Hold a socket's writes for the rest of the tick (the gateway's BurstWriter): a watch's
   * catch-up, sent event by event, then goes out in one write instead of one per event.
   */
  hold?: (socket: Connection['socket']) => void;
}

type Handler<K extends SocketClientMessageName> = (
  message: SocketClientMessages[K],
  conn: Connection,
  deps: HandlerDeps,
) => Promise<SocketAckOk<K>>;

/**
 * Client → server messages, one handler each, called with a message already authorised (the
 * message's role) and parsed (its schema): see `RealtimeGateway.dispatch`. A handler's answer is the
 * message's ack; a thrown error is answered as a coded error.
 */
export const SOCKET_HANDLERS: { [K in SocketClientMessageName]: Handler<K> } = {
  'run:watch': async ({ runId, afterSeq }, conn, { feed, hold }) => {
    const { socket } = conn;
    const previous = conn.watches.get(runId);
    if (previous) feed.remove(previous);
    // registered before any await: a disconnect, an unwatch or a newer watch closes it. Until it
    // is caught up (and, for a new watch, in the room) it is served one event at a time; then
    // live events reach it by the run room's broadcast (see RunFeed)
    const send = (event: EventEnvelope): void => {
      hold?.(socket);
      socket.emit('run:event', event);
    };
    const watch = feed.open(runId, send, socket.id);
    conn.watches.set(runId, watch);
    try {
      const { headSeq, replayed } = await feed.begin(watch, afterSeq);
      if (!watch.isClosed) await socket.join(runRoom(runId));
      return { ok: true, runId, headSeq, replayed };
    } catch (error) {
      if (conn.watches.get(runId) === watch) {
        conn.watches.delete(runId);
        await socket.leave(runRoom(runId)); // a failed re-watch: no tokens for a run not watched
      }
      throw error;
    }
  },

  'run:unwatch': async ({ runId }, conn, { feed }) => {
    const watch = conn.watches.get(runId);
    if (watch) feed.remove(watch);
    conn.watches.delete(runId);
    await conn.socket.leave(runRoom(runId));
    return { ok: true, runId, watching: false };
  },

  'run:message': async ({ runId, text }, conn, { commands }) => {
    const { seq } = await commands.execute(new PostHumanMessageCommand({ runId, text }, conn.human));
    return { ok: true, runId, seq };
  },

  'run:handoff': async ({ runId, to, reason }, conn, { commands }) => {
    const { seq } = await commands.execute(new OverrideHandoffCommand({ runId, to, reason }, conn.human));
    return { ok: true, runId, seq };
  },

  'request:decide': async (message, conn, { commands }) => {
    // the message is the command's input (one schema): undefined members are dropped on the way
    const input = Object.fromEntries(
      Object.entries(message).filter(([, v]) => v !== undefined),
    ) as typeof message;
    const outcome = await commands.execute(new DecideRequestCommand(input, conn.human));
    return { ok: true, requestId: message.requestId, ...outcome };
  },

  'request:claim': async ({ requestId }, conn, { commands }) => {
    const claimed = await commands.execute(new ClaimRequestCommand({ requestId }, conn.human));
    return { ok: true, requestId, ...claimed };
  },

  'inbox:watch': async (message, conn, { projection }) => {
    const { roles, cursor, limit, ...query } = message;
    const key = JSON.stringify([roles ?? null, query]);
    if (cursor && conn.inbox?.key !== key)
      throw new ValidationError(
        'REQUEST.INVALID_QUERY',
        'cursor: a next page is of the query being watched; watch the new query without a cursor first',
        'cursor',
      );
    const page = projection.pageRequests(
      { ...query, status: 'open', limit: limit ?? REQUESTS_PAGE_DEFAULT, cursor },
      { me: conn.human.id, inScope: (r) => inboxShows(conn.human, roles, r) },
    );
    if (!cursor || !conn.inbox)
      conn.inbox = { key, roles, query, shown: new Set(), total: page.total, counts: page.counts };
    const watch = conn.inbox;
    for (const r of page.requests) watch.shown.add(r.id);
    watch.boundary = page.lastKey;
    watch.total = page.total;
    watch.counts = page.counts;
    return {
      ok: true,
      requests: page.requests.map((r) => ({ ...r })),
      total: page.total,
      counts: copyCounts(page.counts),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      asOf: conn.inboxSeq,
    };
  },

  'inbox:unwatch': async (_, conn) => {
    conn.inbox = undefined;
    return { ok: true };
  },

  'runs:watch': async (_, conn) => {
    conn.runs = true;
    return { ok: true };
  },

  'runs:unwatch': async (_, conn) => {
    conn.runs = false;
    return { ok: true };
  },
};

/** A request is in a user's inbox when they may act on it (one of its roles), narrowed by `roles`. */
export function inboxShows(human: Human, roles: string[] | undefined, request: RequestSummary): boolean {
  return request.roles.some((role) => hasRole(human, role) && (!roles || roles.includes(role)));
}
