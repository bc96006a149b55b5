import { Inject, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  SOCKET_CLIENT_MESSAGES,
  SOCKET_COMMAND_MESSAGES,
  SOCKET_ERROR_CODES,
  SOCKET_LIMITS,
  SOCKET_MESSAGE_ROLES,
  UnauthorizedError,
  parseOrThrow,
  type SocketAck,
  type SocketClientMessageName,
  type SocketClientMessages,
  RUNS_CHANGED_BATCH_MS,
} from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import type { Subscription as RxSubscription } from 'rxjs';
import type { Server, Socket } from 'socket.io';
import { IdentityService, requireRole, type Human } from '../auth/identity';
import { PARLEY_CONFIG, type ParleyConfig } from '../config/config';
import { LiveTokens } from '../core/live-tokens';
import { EVENT_STORE } from '../core/tokens';
import { RunsProjection, type RequestSummary } from '../projections/runs.projection';
import { CommandRouter } from '../cluster/command-router';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import type { RunTracing, TraceCarrier } from '../observability/tracing/run-tracing';
import { OriginPolicy } from './origin-policy';
import { RunFeed } from './run-feed';
import { BurstWriter } from './burst-writer';
import { TokenBucket } from './token-bucket';
import { TokenCoalescer } from './token-coalescer';
import { answer, runRoom, toSocketError, type AckFn, type Connection } from './socket-connection';
import { installHandshake } from './socket-handshake';
import { packetGuard } from './socket-middleware';
import { SOCKET_HANDLERS, inboxShows, type HandlerDeps } from './socket-handlers';
import { copyCounts, inboxPushes } from './inbox-watch';

/**
 * The WebSocket API (socket.io, path /socket.io): live run events, tokens and the inbox, and the
 * human commands of the REST API (same bearer tokens, same CQRS commands, same coded errors).
 * The protocol is in libs/contracts/src/socket and docs/WEBSOCKET.md. The handshake, the packet
 * middleware and the message handlers each have a file of their own; this class holds the
 * connections and the live deliveries (run events, tokens, inbox changes).
 */
@WebSocketGateway({
  path: SOCKET_LIMITS.path,
  maxHttpBufferSize: SOCKET_LIMITS.maxMessageBytes,
  serveClient: false,
})
export class RealtimeGateway
  implements
    OnGatewayInit<Server>,
    OnGatewayConnection<Socket>,
    OnGatewayDisconnect<Socket>,
    OnModuleInit,
    OnModuleDestroy
{
  @WebSocketServer() server!: Server;

  private readonly logger = new Logger('Realtime');
  private readonly logError = (line: string): void => this.logger.error(line);
  private readonly connections = new Map<string, Connection>();
  private readonly origins: OriginPolicy;
  private readonly feed: RunFeed;
  private readonly deps: HandlerDeps;
  private tokens?: RxSubscription;
  private stopWatched?: () => void;
  /** Tokens of one agent within 25 ms go out as one `run:token` (see TokenCoalescer). */
  private readonly coalescer = new TokenCoalescer((token) => {
    this.holdRoom(token.runId);
    this.server?.local.to(runRoom(token.runId)).emit('run:token', token);
  });
  /** A burst of a room's packets in one write per socket (see BurstWriter). */
  readonly burst = new BurstWriter((error) =>
    this.logger.error(`burst flush: ${error instanceof Error ? error.stack : String(error)}`),
  );
  private stopInbox?: () => void;
  private readonly changedRuns = new Set<string>();
  private runsBatch?: ReturnType<typeof setTimeout>;
  /** Tracing on: each command message runs under a SERVER span (see `dispatch`). */
  private readonly tracing?: RunTracing;

  constructor(
    @Inject(CommandRouter) commands: CommandRouter,
    @Inject(IdentityService) private readonly identity: IdentityService,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(LiveTokens) private readonly liveTokens: LiveTokens,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(PARLEY_CONFIG) config: ParleyConfig,
    @Inject(PARLEY_CORE) core: ParleyCore,
  ) {
    this.tracing = core.observability.tracing;
    this.origins = new OriginPolicy(config.allowedOrigins);
    this.feed = new RunFeed(
      store,
      (error) => this.logger.error(`run feed: ${error instanceof Error ? error.stack : String(error)}`),
      {
        // the run's room on this instance: its members are the sockets watching it, once caught up
        members: (runId) => this.server?.sockets.adapter.rooms.get(runRoom(runId)),
        // encoded once for all; `local`: the other instances deliver from their own copy of the log
        broadcast: (runId, event, except) => {
          this.holdRoom(runId);
          this.server.local.to(runRoom(runId)).except(except).emit('run:event', event);
        },
      },
      // an agent's tokens go out before the event that completes its message
      (runId) => this.coalescer.flushRun(runId),
    );
    this.deps = { feed: this.feed, commands, projection, hold: (socket) => this.burst.hold([socket]) };
  }

  /** Hold the sockets of a run's room for the rest of the tick: what it is sent meanwhile goes in one write. */
  private holdRoom(runId: string): void {
    const members = this.server?.sockets.adapter.rooms.get(runRoom(runId));
    if (!members?.size) return;
    const sockets = this.server.sockets.sockets;
    this.burst.hold(
      (function* () {
        for (const id of members) {
          const socket = sockets.get(id);
          if (socket) yield socket;
        }
      })(),
    );
  }

  async onModuleInit(): Promise<void> {
    await this.feed.start();
    // tokens of runs driven here, and (Kafka mode) those relayed from the other instances: each
    // instance sends them to its own sockets, hence `local`
    this.tokens = this.liveTokens.subscribe((token) => this.coalescer.push(token));
    // a run's tokens go to the sockets in its room: a run with an empty room streams none
    this.stopWatched = this.liveTokens.watchedBy(
      (runId) => (this.server?.sockets.adapter.rooms.get(runRoom(runId))?.size ?? 0) > 0,
    );
    this.stopInbox = this.projection.onChange((change) => {
      if (change.type === 'request') this.inboxChanged(change.request, change.before);
      else this.runChanged(change.run.runId);
    });
  }

  onModuleDestroy(): void {
    this.tokens?.unsubscribe();
    this.stopWatched?.();
    this.coalescer.close();
    this.stopInbox?.();
    if (this.runsBatch) clearTimeout(this.runsBatch);
    this.feed.stop();
  }

  afterInit(server: Server): void {
    installHandshake(server, this.origins, this.identity);
  }

  handleConnection(socket: Socket): void {
    const human = socket.data.human as Human | undefined;
    if (!human) {
      socket.disconnect(true);
      return;
    }
    const conn: Connection = {
      socket,
      human,
      bucket: new TokenBucket(SOCKET_LIMITS.ratePerSecond, SOCKET_LIMITS.burst),
      watches: new Map(),
      inboxSeq: 0,
    };
    this.connections.set(socket.id, conn);
    // every packet passes here before its handler: the rate limit, then unknown names
    socket.use(packetGuard(conn, this.logError));
    for (const event of Object.keys(SOCKET_HANDLERS) as SocketClientMessageName[]) {
      socket.on(event, (...args: unknown[]) => {
        const { body, ack } = bodyAndAck(args);
        void this.dispatch(socket, event, body, ack);
      });
    }
  }

  handleDisconnect(socket: Socket): void {
    const conn = this.connections.get(socket.id);
    if (!conn) return;
    for (const watch of conn.watches.values()) this.feed.remove(watch);
    conn.watches.clear();
    conn.inbox = undefined;
    this.connections.delete(socket.id);
  }

  /** Gathers changed runs for one `runs:changed` per batch (RUNS_CHANGED_BATCH_MS). */
  private runChanged(runId: string): void {
    this.changedRuns.add(runId);
    if (this.runsBatch) return;
    this.runsBatch = setTimeout(() => this.flushRuns(), RUNS_CHANGED_BATCH_MS);
    this.runsBatch.unref?.();
  }

  private flushRuns(): void {
    this.runsBatch = undefined;
    const ids = [...this.changedRuns];
    this.changedRuns.clear();
    const watchers = [...this.connections.values()].filter((c) => c.runs);
    if (!watchers.length) return;
    const runs = ids.flatMap((id) => {
      const run = this.projection.run(id);
      return run ? [{ ...run, waitingOn: run.waitingOn?.map((w) => ({ ...w })) }] : [];
    });
    for (const conn of watchers) {
      try {
        conn.socket.emit('runs:changed', { runs });
      } catch (error) {
        this.logger.error(
          `runs:changed to ${conn.human.id}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  /**
   * Called inside the read model's update: it must never throw back into it. Each inbox watcher is
   * told only of what its pages show and of its counts (see `inboxPushes`).
   */
  private inboxChanged(request: RequestSummary, before: RequestSummary | undefined): void {
    const ofRun = (runId: string) => this.projection.requestsOfRun(runId);
    for (const conn of this.connections.values()) {
      try {
        const watch = conn.inbox;
        if (!watch || !inboxShows(conn.human, watch.roles, request)) continue;
        for (const push of inboxPushes(watch, request, before, { me: conn.human.id, ofRun })) {
          conn.inboxSeq += 1;
          conn.socket.emit('inbox:changed', {
            seq: conn.inboxSeq,
            ...(push.request ? { request: { ...push.request }, listed: push.listed } : {}),
            total: watch.total,
            counts: copyCounts(watch.counts),
          });
        }
      } catch (error) {
        this.logger.error(
          `inbox:changed to ${conn.human.id}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  /**
   * Authorise, validate, run the message's handler, and always answer: an ack, or `socket:error`
   * when there is no ack. Tracing on, a command message is handled under a SERVER span whose parent
   * is the message's `traceparent` (if any), and its ack carries that span's `traceparent`.
   */
  private async dispatch<K extends SocketClientMessageName>(
    socket: Socket,
    event: K,
    body: unknown,
    ack: AckFn | undefined,
  ): Promise<void> {
    const tracing = this.tracing;
    if (!tracing || !isCommandMessage(event)) {
      answer(socket, event, ack, await this.handle(socket, event, body), this.logError);
      return;
    }
    const carrier: TraceCarrier =
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as TraceCarrier) : {};
    const reply = await tracing.inServerSpan(
      `socket.io ${event}`,
      carrier,
      { 'network.protocol.name': 'socket.io', 'parley.socket.event': event },
      async (span, traceparent) => {
        const handled = await this.handle(socket, event, body);
        if (!handled.ok) {
          const { code } = (handled as { error: { code: string } }).error;
          span.setAttribute('parley.error.code', code);
          if (SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        }
        return traceparent ? { ...handled, traceparent } : handled;
      },
    );
    answer(socket, event, ack, reply, this.logError);
  }

  private async handle<K extends SocketClientMessageName>(
    socket: Socket,
    event: K,
    body: unknown,
  ): Promise<SocketAck<K>> {
    let reply: SocketAck<K>;
    try {
      const conn = this.connections.get(socket.id);
      if (!conn) throw new UnauthorizedError('AUTH.MISSING_TOKEN', 'not authenticated');
      requireRole(conn.human, SOCKET_MESSAGE_ROLES[event]);
      // no payload (a message that came with an ack only) is an empty object
      const payload =
        body === undefined || body === null || (Array.isArray(body) && body.length === 0) ? {} : body;
      const parsed = parseOrThrow(
        SOCKET_CLIENT_MESSAGES[event],
        payload,
        SOCKET_ERROR_CODES.invalidPayload,
      ) as SocketClientMessages[K] & TraceCarrier;
      // the trace context is the transport's, not the command's input
      const { traceparent: _parent, tracestate: _state, ...message } = parsed;
      reply = await SOCKET_HANDLERS[event](message as SocketClientMessages[K], conn, this.deps);
    } catch (error) {
      reply = { ok: false, error: toSocketError(event, error, this.logError) };
    }
    return reply;
  }
}

const COMMAND_MESSAGES: ReadonlySet<string> = new Set(SOCKET_COMMAND_MESSAGES);
const isCommandMessage = (event: string): boolean => COMMAND_MESSAGES.has(event);
/** Codes that are the server's failure, not the caller's: their spans' status is ERROR. */
const SERVER_FAULTS: ReadonlySet<string> = new Set([
  SOCKET_ERROR_CODES.internal,
  'EVENT_LOG.UNAVAILABLE',
  'CLUSTER.OWNER_UNAVAILABLE',
]);

/**
 * A packet's body and ack, as Nest's socket.io adapter handed them to `@SubscribeMessage` handlers
 * (before the handler table): the ack is the last argument when it is a function; one argument
 * besides is the body, several are an array of them, none is no body.
 */
function bodyAndAck(args: unknown[]): { body: unknown; ack?: AckFn } {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as AckFn) : undefined;
  const rest = ack ? args.slice(0, -1) : args;
  return { body: rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest, ack };
}
