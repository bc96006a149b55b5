import { Inject, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  Ack,
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import {
  ParleyError,
  SOCKET_CLIENT_MESSAGES,
  SOCKET_ERROR_CODES,
  SOCKET_LIMITS,
  SOCKET_MESSAGE_ROLES,
  UnauthorizedError,
  parseOrThrow,
  type DecisionBody,
  type EventEnvelope,
  type SocketAck,
  type SocketAckError,
  type SocketAckOk,
  type SocketClientMessageName,
  type SocketClientMessages,
  type SocketError,
} from '@parley/contracts';
import type { DecisionOutcome } from '@parley/engine';
import type { EventStore } from '@parley/event-store';
import type { Subscription as RxSubscription } from 'rxjs';
import type { Server, Socket } from 'socket.io';
import { IdentityService, hasRole, requireRole, type Human } from '../auth/identity';
import { PARLEY_CONFIG, type ParleyConfig } from '../config/config';
import { LiveTokens } from '../core/live-tokens';
import { EVENT_STORE } from '../core/tokens';
import { ClaimRequestCommand, DecideRequestCommand } from '../hitl/commands/request-commands';
import { RunsProjection, type RequestSummary } from '../projections/runs.projection';
import { OverrideHandoffCommand, PostHumanMessageCommand } from '../runs/commands/run-commands';
import { OriginPolicy } from './origin-policy';
import { RunFeed, type RunWatch } from './run-feed';
import { BurstWriter } from './burst-writer';
import { TokenBucket } from './token-bucket';
import { TokenCoalescer } from './token-coalescer';
import { CommandRouter } from '../cluster/command-router';

type AckFn = (reply: unknown) => void;

/** What the gateway keeps per connection; dropped on disconnect. */
interface Connection {
  socket: Socket;
  human: Human;
  bucket: TokenBucket;
  watches: Map<string, RunWatch>;
  /** Set while the socket watches the inbox; `roles` narrows it. */
  inbox?: { roles?: string[] };
}

const runRoom = (runId: string): string => `run:${runId}`;

/**
 * The WebSocket API (socket.io, path /socket.io): live run events, tokens and the inbox, and the
 * human commands of the REST API (same bearer tokens, same CQRS commands, same coded errors).
 * The protocol is in libs/contracts/src/socket and docs/WEBSOCKET.md.
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
  private readonly connections = new Map<string, Connection>();
  private readonly origins: OriginPolicy;
  private readonly feed: RunFeed;
  private tokens?: RxSubscription;
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

  constructor(
    @Inject(CommandRouter) private readonly commands: CommandRouter,
    @Inject(IdentityService) private readonly identity: IdentityService,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(LiveTokens) private readonly liveTokens: LiveTokens,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(PARLEY_CONFIG) config: ParleyConfig,
  ) {
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
    this.stopInbox = this.projection.onChange((change) => {
      if (change.type === 'request') this.inboxChanged(change.request);
    });
  }

  onModuleDestroy(): void {
    this.tokens?.unsubscribe();
    this.coalescer.close();
    this.stopInbox?.();
    this.feed.stop();
  }

  /** Handshake: the Origin (engine.io, per HTTP request / upgrade), then the bearer token (socket.io). */
  afterInit(server: Server): void {
    server.engine.opts.allowRequest = this.origins.allowRequest;
    server.engine.use(this.origins.cors);
    server.use((socket, next) => {
      try {
        const auth = socket.handshake.auth as { token?: unknown } | undefined;
        const token = typeof auth?.token === 'string' ? auth.token : socket.handshake.headers.authorization;
        socket.data.human = this.identity.authenticate(token);
        next();
      } catch (error) {
        const body =
          error instanceof ParleyError
            ? { code: error.code, message: error.message }
            : { code: 'AUTH.INVALID_TOKEN', message: 'the token is not valid' };
        next(Object.assign(new Error(body.message), { data: body }));
      }
    });
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
    };
    this.connections.set(socket.id, conn);
    // every packet passes here before its handler: the rate limit, then unknown names
    socket.use((packet, next) => {
      const [name, ...args] = packet;
      const event = String(name);
      const ack = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as AckFn) : undefined;
      if (!conn.bucket.take()) {
        this.reply(
          socket,
          event,
          ack,
          failure(
            SOCKET_ERROR_CODES.rateLimited,
            `more than ${SOCKET_LIMITS.ratePerSecond} messages a second (burst ${SOCKET_LIMITS.burst}): slow down`,
          ),
        );
        return;
      }
      if (!Object.hasOwn(SOCKET_CLIENT_MESSAGES, event)) {
        this.reply(
          socket,
          event,
          ack,
          failure(
            SOCKET_ERROR_CODES.unknownEvent,
            `no message "${event}"; known: ${Object.keys(SOCKET_CLIENT_MESSAGES).join(', ')}`,
            'event',
          ),
        );
        return;
      }
      next();
    });
  }

  handleDisconnect(socket: Socket): void {
    const conn = this.connections.get(socket.id);
    if (!conn) return;
    for (const watch of conn.watches.values()) this.feed.remove(watch);
    conn.watches.clear();
    conn.inbox = undefined;
    this.connections.delete(socket.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Client → server messages
  // ---------------------------------------------------------------------------------------------

  @SubscribeMessage('run:watch')
  onRunWatch(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'run:watch', body, ack, async ({ runId, afterSeq }, conn) => {
      const previous = conn.watches.get(runId);
      if (previous) this.feed.remove(previous);
      // registered before any await: a disconnect, an unwatch or a newer watch closes it. Until it
      // is caught up (and, for a new watch, in the room) it is served one event at a time; then
      // live events reach it by the run room's broadcast (see RunFeed)
      const watch = this.feed.open(
        runId,
        (event: EventEnvelope) => socket.emit('run:event', event),
        socket.id,
      );
      conn.watches.set(runId, watch);
      try {
        const { headSeq, replayed } = await this.feed.begin(watch, afterSeq);
        if (!watch.isClosed) await socket.join(runRoom(runId));
        return { ok: true, runId, headSeq, replayed };
      } catch (error) {
        if (conn.watches.get(runId) === watch) {
          conn.watches.delete(runId);
          await socket.leave(runRoom(runId)); // a failed re-watch: no tokens for a run not watched
        }
        throw error;
      }
    });
  }

  @SubscribeMessage('run:unwatch')
  onRunUnwatch(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'run:unwatch', body, ack, async ({ runId }, conn) => {
      const watch = conn.watches.get(runId);
      if (watch) this.feed.remove(watch);
      conn.watches.delete(runId);
      await socket.leave(runRoom(runId));
      return { ok: true, runId, watching: false };
    });
  }

  @SubscribeMessage('run:message')
  onRunMessage(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'run:message', body, ack, async ({ runId, text }, conn) => {
      const { seq } = (await this.commands.execute(new PostHumanMessageCommand(runId, conn.human, text))) as {
        seq: number;
      };
      return { ok: true, runId, seq };
    });
  }

  @SubscribeMessage('run:handoff')
  onRunHandoff(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'run:handoff', body, ack, async ({ runId, to, reason }, conn) => {
      const { seq } = (await this.commands.execute(
        new OverrideHandoffCommand(runId, conn.human, to, reason),
      )) as { seq: number };
      return { ok: true, runId, seq };
    });
  }

  @SubscribeMessage('request:decide')
  onRequestDecide(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'request:decide', body, ack, async ({ requestId, ...decision }, conn) => {
      const parsed: DecisionBody = { decision: decision.decision };
      if (decision.comment !== undefined) parsed.comment = decision.comment;
      if (decision.payload !== undefined) parsed.payload = decision.payload;
      if (decision.payloadHash !== undefined) parsed.payloadHash = decision.payloadHash;
      const outcome = (await this.commands.execute(
        new DecideRequestCommand(requestId, conn.human, parsed),
      )) as DecisionOutcome;
      return outcome.status === 'recorded'
        ? { ok: true, requestId, status: 'recorded', votes: outcome.votes, quorum: outcome.quorum }
        : { ok: true, requestId, status: outcome.status };
    });
  }

  @SubscribeMessage('request:claim')
  onRequestClaim(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'request:claim', body, ack, async ({ requestId }, conn) => {
      await this.commands.execute(new ClaimRequestCommand(requestId, conn.human));
      return { ok: true, requestId, status: 'claimed', by: conn.human.id };
    });
  }

  @SubscribeMessage('inbox:watch')
  onInboxWatch(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'inbox:watch', body, ack, async ({ roles }, conn) => {
      conn.inbox = { roles };
      const requests = this.projection.listRequests({ status: 'open' }).filter((r) => inboxShows(conn, r));
      return { ok: true, requests: requests.map((r) => ({ ...r })) };
    });
  }

  @SubscribeMessage('inbox:unwatch')
  onInboxUnwatch(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack?: AckFn,
  ): Promise<void> {
    return this.handle(socket, 'inbox:unwatch', body, ack, async (_, conn) => {
      conn.inbox = undefined;
      return { ok: true };
    });
  }

  // ---------------------------------------------------------------------------------------------

  /** Called inside the read model's update: it must never throw back into it. */
  private inboxChanged(request: RequestSummary): void {
    for (const conn of this.connections.values()) {
      try {
        if (conn.inbox && inboxShows(conn, request))
          conn.socket.emit('inbox:changed', { request: { ...request } });
      } catch (error) {
        this.logger.error(
          `inbox:changed to ${conn.human.id}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  /** Authorise, validate, run, and always answer: an ack, or `socket:error` when there is no ack. */
  private async handle<K extends SocketClientMessageName>(
    socket: Socket,
    event: K,
    body: unknown,
    ack: AckFn | undefined,
    run: (message: SocketClientMessages[K], conn: Connection) => Promise<SocketAckOk<K>>,
  ): Promise<void> {
    let reply: SocketAck<K>;
    try {
      const conn = this.connections.get(socket.id);
      if (!conn) throw new UnauthorizedError('AUTH.MISSING_TOKEN', 'not authenticated');
      requireRole(conn.human, SOCKET_MESSAGE_ROLES[event]);
      // no payload (Nest hands over `[]` when a message came with an ack only) is an empty object
      const payload =
        body === undefined || body === null || (Array.isArray(body) && body.length === 0) ? {} : body;
      const message = parseOrThrow(
        SOCKET_CLIENT_MESSAGES[event],
        payload,
        SOCKET_ERROR_CODES.invalidPayload,
      ) as SocketClientMessages[K];
      reply = await run(message, conn);
    } catch (error) {
      reply = { ok: false, error: this.toSocketError(event, error) };
    }
    this.reply(socket, event, ack, reply);
  }

  private reply(
    socket: Socket,
    event: string,
    ack: AckFn | undefined,
    reply: { ok: boolean; error?: SocketError },
  ): void {
    try {
      if (ack) ack(reply);
      else if (!reply.ok) socket.emit('socket:error', { event, error: reply.error });
    } catch (error) {
      this.logger.error(
        `could not answer ${event}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private toSocketError(event: string, error: unknown): SocketError {
    if (error instanceof ParleyError) return error.toJSON();
    this.logger.error(`${event}: ${error instanceof Error ? error.stack : String(error)}`);
    return { code: SOCKET_ERROR_CODES.internal, message: 'internal error' };
  }
}

function failure(code: string, message: string, field?: string): SocketAckError {
  return { ok: false, error: { code, message, ...(field ? { field } : {}) } };
}

/** A request is in a user's inbox when they may act on it (one of its roles), narrowed by `roles`. */
function inboxShows(conn: Connection, request: RequestSummary): boolean {
  const filter = conn.inbox?.roles;
  return request.roles.some((role) => hasRole(conn.human, role) && (!filter || filter.includes(role)));
}
