import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import {
  SOCKET_CLIENT_MESSAGES,
  SOCKET_LIMITS,
  SocketAckError,
  type SocketClientMessageName,
} from '@parley/contracts';
import { TEST_USERS, waitFor, type TestUser } from '@parley/testing';
import {
  PROTO_KEYS,
  anyText,
  badValue,
  invalidOf,
  isPlainObject,
  jsonRoundTrip,
  unknownId,
  validOf,
} from './arbitraries';
import { Tally, assertFuzz } from './fuzz-config';
import { assertUntouched, lastPosition, startFuzzTarget, type FuzzTarget } from './harness';

const NAMES = Object.keys(SOCKET_CLIENT_MESSAGES) as SocketClientMessageName[];
/** Messages whose valid shape names a run or request that must exist (else a domain NOT_FOUND). */
const ID_FIELD: Partial<Record<SocketClientMessageName, 'runId' | 'requestId'>> = {
  'run:watch': 'runId',
  'run:message': 'runId',
  'run:handoff': 'runId',
  'request:decide': 'requestId',
  'request:claim': 'requestId',
};
/** Huge strings stay under the 64 KB frame cap (over it, the connection closes: see limits). */
const SOCKET_HUGE = 50_000;
/** socket.io-client refuses to emit these itself. */
const RESERVED = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

interface SocketCase {
  kind: string;
  user: TestUser;
  event: string;
  args: unknown[];
  check?: (error: { code: string; field?: string }) => void;
}

function socketCases(t: FuzzTarget): fc.Arbitrary<SocketCase> {
  const existing = (field: 'runId' | 'requestId'): string => (field === 'runId' ? t.runId : t.requestId);

  // schema-invalid payloads, aimed at the real run and request too: SOCKET.INVALID_PAYLOAD naming the field
  const invalid = fc.constantFrom(...NAMES).chain((event) => {
    const schema = SOCKET_CLIENT_MESSAGES[event];
    const idField = ID_FIELD[event];
    const valid = idField
      ? fc
          .tuple(validOf(schema), fc.boolean())
          .map(([v, real]) => (real ? { ...(v as object), [idField]: existing(idField) } : v))
      : validOf(schema);
    return invalidOf(schema, valid, SOCKET_HUGE)
      .filter((payload) => !schema.safeParse(asReceived(payload)).success)
      .map((payload): SocketCase => ({
        kind: `invalid ${event}`,
        user: 'admin',
        event,
        args: [payload],
        check: (error) => {
          assert.equal(error.code, 'SOCKET.INVALID_PAYLOAD');
          if (isPlainObject(jsonRoundTrip(payload))) assert.ok(error.field, 'the ack names the field');
        },
      }));
  });

  // valid shapes that name nothing: the domain's NOT_FOUND
  const unknown = fc.constantFrom(...(Object.keys(ID_FIELD) as SocketClientMessageName[])).chain((event) =>
    fc
      .tuple(
        validOf(SOCKET_CLIENT_MESSAGES[event]),
        unknownId().filter((id) => id.length <= 200),
      )
      .map(([payload, id]): SocketCase => ({
        kind: `unknown id ${event}`,
        user: 'admin',
        event,
        args: [{ ...(payload as object), [ID_FIELD[event]!]: id }],
        check: (error) => assert.match(error.code, /^(RUN|REQUEST)\.NOT_FOUND$/),
      })),
  );

  // names the server does not know, with any payload
  const unknownEvent = fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          ...PROTO_KEYS,
          'run:watch ',
          'RUN:WATCH',
          'run',
          'socket:error',
          'run:event',
          'inbox:changed',
          'hasOwnProperty',
        ),
        anyText(1, 30),
      ),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 }),
    )
    .filter(([event]) => !RESERVED.has(event) && !Object.hasOwn(SOCKET_CLIENT_MESSAGES, event))
    .map(([event, args]): SocketCase => ({
      kind: 'unknown event',
      user: 'admin',
      event,
      args,
      check: (error) => assert.deepEqual([error.code, error.field], ['SOCKET.UNKNOWN_EVENT', 'event']),
    }));

  // odd arities and kinds: nothing, several arguments, binary, a bare value
  const oddArgs = fc
    .tuple(
      fc.constantFrom(...NAMES.filter((n) => n !== 'inbox:unwatch' && n !== 'inbox:watch')),
      fc.oneof(
        fc.constant<unknown[]>([]),
        fc.tuple(badValue(SOCKET_HUGE / 2), badValue(SOCKET_HUGE / 2)).map(([a, b]) => [a, b]),
        fc.uint8Array({ maxLength: 64 }).map((bytes) => [Buffer.from(bytes)]),
        badValue(SOCKET_HUGE).map((v) => [v]),
      ),
    )
    .filter(
      ([event, args]) =>
        args.length > 1 || !SOCKET_CLIENT_MESSAGES[event].safeParse(asReceived(args[0])).success,
    )
    .map(([event, args]): SocketCase => ({ kind: `odd arguments ${event}`, user: 'admin', event, args }));

  // a viewer may not post or hand off, whatever the payload (the role is checked first)
  const viewer = fc
    .tuple(
      fc.constantFrom('run:message', 'run:handoff'),
      fc.oneof(badValue(SOCKET_HUGE), fc.jsonValue({ maxDepth: 2 })),
    )
    .map(([event, payload]): SocketCase => ({
      kind: `viewer ${event}`,
      user: 'victor',
      event,
      args: [payload],
      check: (error) => assert.equal(error.code, 'AUTH.ROLE_REQUIRED'),
    }));

  return fc
    .oneof(
      { arbitrary: invalid, weight: 6 },
      { arbitrary: unknown, weight: 2 },
      { arbitrary: unknownEvent, weight: 1 },
      { arbitrary: oddArgs, weight: 2 },
      { arbitrary: viewer, weight: 1 },
    )
    .map((c) =>
      Object.assign(c, {
        [fc.toStringMethod]: () => `${c.kind} | ${c.user} | ${c.event} | ${safeJson(c.args).slice(0, 400)}`,
      }),
    );
}

/** What the gateway validates: the payload after JSON, with "no payload" (null, [], none) as `{}`. */
function asReceived(payload: unknown): unknown {
  const value = payload === undefined ? undefined : jsonRoundTrip(payload);
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0) ? {} : value;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Sockets per user, used in turn, so the per-connection rate limit is not what answers. */
class SocketPool {
  private readonly sockets = new Map<TestUser, Socket[]>();
  private next = 0;
  rateLimited = 0;

  constructor(
    private readonly url: string,
    private readonly size: number,
  ) {}

  async socket(user: TestUser): Promise<Socket> {
    let list = this.sockets.get(user);
    if (!list) {
      list = await Promise.all(Array.from({ length: this.size }, () => this.open(user)));
      this.sockets.set(user, list);
    }
    const socket = list[this.next++ % list.length];
    return socket.connected ? socket : this.open(user);
  }

  private open(user: TestUser): Promise<Socket> {
    const socket = io(this.url, {
      auth: { token: TEST_USERS[user].token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5_000,
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  }

  /** Send and wait for the ack (10 s: a missing ack is a failure); RATE_LIMITED is retried. */
  async ask(user: TestUser, event: string, args: unknown[]): Promise<unknown> {
    for (;;) {
      const socket = await this.socket(user);
      const ack: unknown = await socket.timeout(10_000).emitWithAck(event, ...args);
      if ((ack as { error?: { code?: string } })?.error?.code !== 'RATE_LIMITED') {
        assert.ok(socket.connected, 'a bad message does not cost the connection');
        return ack;
      }
      this.rateLimited += 1;
      await new Promise((r) => setTimeout(r, 1000 / SOCKET_LIMITS.ratePerSecond));
    }
  }

  close(): void {
    for (const list of this.sockets.values()) for (const s of list) s.close();
  }
}

/** The socket.io fuzz suite: every client message and unknown ones, then a control that must fail. */
export function socketFuzzSuite(runs: { messages: number }): void {
  let t: FuzzTarget;
  let pool: SocketPool;
  const tally = new Tally();
  before(async () => {
    t = await startFuzzTarget();
    pool = new SocketPool(t.server.url, 8);
  });
  after(async () => {
    process.stdout.write(
      `${tally.report('socket.io bad input, by ack code')}\n  (RATE_LIMITED acks retried: ${pool?.rateLimited})\n`,
    );
    pool?.close();
    await t?.server.dispose();
  });

  it('every bad socket message gets a coded {ok: false} ack, the server stays up, nothing is appended', async () => {
    await assertFuzz(
      'socket.io bad input',
      fc.asyncProperty(socketCases(t), async (c) => {
        const before = await lastPosition(t.server);
        const ack = await pool.ask(c.user, c.event, c.args);
        const parsed = SocketAckError.safeParse(ack);
        assert.ok(parsed.success, `not {ok: false, error: {code, message}}: ${safeJson(ack).slice(0, 300)}`);
        const { error } = parsed.data;
        assert.notEqual(error.code, 'INTERNAL', error.message);
        tally.add(error.code);
        c.check?.(error);
        await assertUntouched(t, c.kind, before);
      }),
      runs.messages,
    );
    await assertUntouched(t, 'after the socket batch');
  });

  it('control: a valid message does append, and the same checks notice it', async () => {
    const ack = (await pool.ask('admin', 'run:message', [{ runId: t.runId, text: 'control' }])) as {
      ok: boolean;
    };
    assert.equal(ack.ok, true, safeJson(ack));
    tally.add('ok (control)');
    await waitFor('the control appended', async () => (await lastPosition(t.server)) > t.position);
    await assert.rejects(assertUntouched(t, 'control'), /nothing appended/);
  });
}
