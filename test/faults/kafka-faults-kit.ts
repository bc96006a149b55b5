import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Socket } from 'socket.io-client';
import type { EventEnvelope } from '@parley/contracts';
import {
  ParleyProcess,
  REPO_ROOT,
  auditRunEvents,
  readCommittedTopic,
  waitFor,
  type HttpClient,
  type TopicAudit,
} from '@parley/testing';
import { ask, connect } from '../e2e/realtime/socket-client';

/** The handle `scripts/kafka/broker.mjs` returns (the part the fault tests use). */
export interface Broker {
  brokers: string;
  pid: number;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<Broker>;
}

// tsc compiles `import()` to `require()`, which cannot load an ES module: keep a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

/** `scripts/kafka/broker.mjs` (the part the fault tests use). */
export async function brokerModule(): Promise<{
  startBroker: (options: object) => Promise<Broker>;
  freePort: () => Promise<number>;
}> {
  return (await importEsm(pathToFileURL(join(REPO_ROOT, 'scripts/kafka/broker.mjs')).href)) as {
    startBroker: (options: object) => Promise<Broker>;
    freePort: () => Promise<number>;
  };
}

/** A broker of the test's own (never the shared dev broker), on free ports, with a data dir that outlives restarts. */
export async function startOwnBroker(): Promise<{ broker: Broker; dataDir: string; log: string[] }> {
  const { startBroker } = await brokerModule();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-kafka-faults-'));
  const log: string[] = [];
  const broker = await startBroker({ dataDir, log: (line: string) => log.push(line) });
  return { broker, dataDir, log };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const TOPIC = 'parley.run-events';

/** A Parley server on the Kafka log of `brokers`, with a slow offline model so that runs are caught mid-step. */
export function startServer(brokers: string, dataDir?: string): Promise<ParleyProcess> {
  return ParleyProcess.start({
    eventLog: 'kafka',
    dataDir,
    env: {
      KAFKA_BROKERS: brokers,
      PARLEY_INSTANCE_ID: `faults-${randomUUID().slice(0, 8)}`,
      OFFLINE_MODEL_TOKEN_LATENCY_MS: '12',
      PARLEY_KAFKA_SESSION_TIMEOUT_MS: '6000',
      PARLEY_KAFKA_HEARTBEAT_MS: '500',
    },
  });
}

export interface Refusal {
  what: string;
  status: number;
  code: string;
  ms: number;
}

/** What one fault (a stop or a SIGKILL of the broker, then a restart) did, as figures. */
export interface FaultFigures {
  fault: 'stop' | 'kill';
  runsInFlight: number;
  /** From the signal to `/health` answering 503 degraded. */
  detectMs: number;
  /** From the signal to `/health` answering 200 ok again (the broker's own restart included). */
  degradedMs: number;
  /** From the restarted broker serving requests to `/health` 200 ok. */
  recoverMs: number;
  /** From the restarted broker serving requests to the first new run accepted. */
  firstAcceptedMs: number;
  /** From the restarted broker serving requests to every run in flight being out of `running`. */
  runsSettledMs: number;
  refusals: Refusal[];
}

/** Start a refund-desk run; `amount` > 100 waits for an approver (four-eyes: not carol, who asks). */
export async function startRefund(carol: HttpClient, amount: number, tag: string): Promise<string> {
  const answer = await carol.post('/api/runs', {
    workflow: 'refund-desk',
    input: `Please refund $${amount} for order #${tag}, it arrived broken`,
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.runId as string;
}

export async function eventsOf(api: HttpClient, runId: string): Promise<EventEnvelope[]> {
  const answer = await api.get(`/api/runs/${runId}/events`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.events as EventEnvelope[];
}

/**
 * Every event the server has shown (hence acknowledged: it is in its store only after the broker's
 * ack) by run and seq, with its hash. After the faults, each must be in the topic, unchanged.
 */
export class AckedEvents {
  readonly byRun = new Map<string, Map<number, string>>();

  async record(api: HttpClient, runIds: Iterable<string>): Promise<void> {
    for (const runId of runIds) {
      const seen = this.byRun.get(runId) ?? new Map<number, string>();
      for (const e of await eventsOf(api, runId)) {
        const before = seen.get(e.seq);
        assert.ok(before === undefined || before === e.hash, `run ${runId} seq ${e.seq} changed its hash`);
        seen.set(e.seq, e.hash);
      }
      this.byRun.set(runId, seen);
    }
  }

  count(): number {
    let n = 0;
    for (const seqs of this.byRun.values()) n += seqs.size;
    return n;
  }
}

/** Read the whole run-events topic from the broker (not through Parley) and check every run's chain. */
export async function auditTopic(brokers: string): Promise<TopicAudit> {
  return auditRunEvents(await readCommittedTopic(brokers.split(','), TOPIC));
}

/** Acknowledged events missing from the topic, or there with another hash. */
export function lostEvents(acked: AckedEvents, audit: TopicAudit): string[] {
  const lost: string[] = [];
  for (const [runId, seqs] of acked.byRun) {
    const inTopic = new Map((audit.byRun.get(runId) ?? []).map((e) => [e.seq, e.hash]));
    for (const [seq, hash] of seqs) if (inTopic.get(seq) !== hash) lost.push(`${runId}#${seq}`);
  }
  return lost;
}

async function timed(fn: () => Promise<{ status: number; code: string }>, what: string): Promise<Refusal> {
  const t = Date.now();
  const { status, code } = await fn();
  return { what, status, code, ms: Date.now() - t };
}

/**
 * Every way to give the server new work while the log is down, over REST and socket.io: each must
 * be refused at once with 503 / `EVENT_LOG.UNAVAILABLE`.
 */
export async function tryNewWork(
  server: ParleyProcess,
  ids: { waitingRunId: string; requestId: string; anyRunId: string; idempotencyKey: string },
): Promise<Refusal[]> {
  const carol = server.client('carol');
  const alice = server.client('alice');
  const rest = (answer: { status: number; body: { error?: { code?: string } } }) => ({
    status: answer.status,
    code: answer.body?.error?.code ?? '(none)',
  });
  const refusals = [
    await timed(
      async () =>
        rest(
          await carol.post('/api/runs', {
            workflow: 'refund-desk',
            input: 'Please refund $20 for order #R1',
            idempotencyKey: ids.idempotencyKey,
          }),
        ),
      'POST /api/runs',
    ),
    await timed(
      async () => rest(await alice.post(`/api/requests/${ids.requestId}/decision`, { decision: 'approve' })),
      'POST /api/requests/:id/decision',
    ),
    await timed(
      async () => rest(await carol.post(`/api/runs/${ids.anyRunId}/messages`, { text: 'hello?' })),
      'POST /api/runs/:id/messages',
    ),
    await timed(
      async () => rest(await carol.post(`/api/runs/${ids.waitingRunId}/cancel`, {})),
      'POST /api/runs/:id/cancel',
    ),
  ];
  let socket: Socket | undefined;
  try {
    socket = await connect(server, 'alice');
    const s = socket;
    refusals.push(
      await timed(async () => {
        const reply = await ask(s, 'request:decide', { requestId: ids.requestId, decision: 'approve' });
        return { status: reply.ok ? 200 : 503, code: reply.ok ? '(accepted)' : reply.error.code };
      }, 'socket request:decide'),
      await timed(async () => {
        const reply = await ask(s, 'run:message', { runId: ids.anyRunId, text: 'hello?' });
        return { status: reply.ok ? 200 : 503, code: reply.ok ? '(accepted)' : reply.error.code };
      }, 'socket run:message'),
    );
  } finally {
    socket?.disconnect();
  }
  return refusals;
}

export async function health(server: ParleyProcess): Promise<{ status: number; body: any }> {
  return server.client(null).get('/health');
}

export interface FaultContext {
  server: ParleyProcess;
  broker: Broker;
  acked: AckedEvents;
  /** Every run started, with what its ledger must show at the end: one refund, or none. */
  runs: Map<string, { refunds: 0 | 1 }>;
  figures: FaultFigures[];
}

/** Its own broker and a server on it, as a fresh FaultContext; `dispose` stops both and removes the data. */
export async function startFaultContext(): Promise<{ ctx: FaultContext; dispose: () => Promise<void> }> {
  const own = await startOwnBroker();
  const server = await startServer(own.broker.brokers);
  const ctx: FaultContext = {
    server,
    broker: own.broker,
    acked: new AckedEvents(),
    runs: new Map(),
    figures: [],
  };
  return {
    ctx,
    dispose: async () => {
      await server.dispose();
      await own.broker.stop();
      removeDir(own.dataDir);
    },
  };
}

const statusOf = async (api: HttpClient, runId: string): Promise<string> =>
  (await api.get(`/api/runs/${runId}`)).body.status as string;

/**
 * One fault: an approval waits, `autoRuns` refunds are mid-run, the broker is stopped (SIGTERM) or
 * killed (SIGKILL); while it is down the server must say so and refuse new work; after the restart
 * it must take new work again, finish every run in flight, and let the waiting approval be decided.
 */
export async function faultCycle(
  ctx: FaultContext,
  fault: 'stop' | 'kill',
  { autoRuns = 4, downMs = 3000 } = {},
): Promise<FaultFigures> {
  const { server } = ctx;
  const carol = server.client('carol');
  const alice = server.client('alice');
  const tag = randomUUID().slice(0, 6);

  // A run paused for an approval (four-eyes: carol asks, alice approves).
  const waitingRunId = await startRefund(carol, 250, `W-${tag}`);
  ctx.runs.set(waitingRunId, { refunds: 1 });
  const waiting = await waitFor(
    'the approval run to wait',
    async () => {
      const run = (await alice.get(`/api/runs/${waitingRunId}`)).body;
      return run.status === 'waiting' ? run : undefined;
    },
    { timeoutMs: 30_000 },
  );
  const requestId = waiting.pendingRequests[0].id as string;

  // Refunds under $100 run straight through (model → tool → model): caught mid-run by the fault.
  const inFlight: string[] = [];
  for (let i = 0; i < autoRuns; i++) {
    const runId = await startRefund(carol, 30 + i, `A${i}-${tag}`);
    inFlight.push(runId);
    ctx.runs.set(runId, { refunds: 1 });
  }
  await waitFor(
    'the last run started to have asked its model',
    async () => (await eventsOf(carol, inFlight[inFlight.length - 1])).length >= 2,
    { timeoutMs: 15_000 },
  );

  // The fault, at once: the runs just started are mid-run.
  const t0 = Date.now();
  if (fault === 'stop') await ctx.broker.stop();
  else await ctx.broker.kill();
  const degraded = await waitFor(
    '/health to report the event log unreachable',
    async () => {
      const h = await health(server);
      return h.status === 503 ? h : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  const detectMs = Date.now() - t0;
  assert.equal(degraded.body.status, 'degraded');
  assert.equal(degraded.body.checks.eventLog.kind, 'kafka');
  assert.equal(degraded.body.checks.eventLog.reachable, false);
  assert.ok(
    degraded.body.checks.eventLog.since && degraded.body.checks.eventLog.lastError,
    JSON.stringify(degraded.body),
  );
  // What the server shows now is frozen (nothing can be appended) and acknowledged (it is in its
  // store only after the broker's ack): record it; a run still `running` was caught mid-run.
  await ctx.acked.record(carol, ctx.runs.keys());
  const running = (await Promise.all(inFlight.map((id) => statusOf(carol, id)))).filter(
    (s) => s === 'running',
  );

  const idempotencyKey = `refused-${tag}`;
  const refusals = await tryNewWork(server, {
    waitingRunId,
    requestId,
    anyRunId: inFlight[0],
    idempotencyKey,
  });
  for (const r of refusals) {
    assert.equal(r.code, 'EVENT_LOG.UNAVAILABLE', `${r.what} while the log is down: ${JSON.stringify(r)}`);
    assert.equal(r.status, 503, r.what);
    assert.ok(r.ms < 2000, `${r.what} refused in ${r.ms} ms, not at once`);
  }
  // Reads are served from the local store meanwhile.
  assert.equal((await alice.get('/api/runs')).status, 200);
  assert.equal(await statusOf(alice, waitingRunId), 'waiting');
  await ctx.acked.record(carol, ctx.runs.keys());

  const rest = downMs - (Date.now() - t0);
  if (rest > 0) await new Promise((r) => setTimeout(r, rest)); // an outage of a known length, not a wait for a condition
  assert.equal((await health(server)).status, 503, 'still degraded while the broker is down');

  ctx.broker = await ctx.broker.restart();
  const tReady = Date.now();
  await waitFor(
    '/health to report the event log reachable again',
    async () => (await health(server)).status === 200,
    {
      timeoutMs: 60_000,
      intervalMs: 50,
    },
  );
  const recoverMs = Date.now() - tReady;
  const degradedMs = Date.now() - t0;

  // The refused start changed nothing: the same idempotency key now creates its run (201, not 200).
  const accepted = await waitFor(
    'a new run to be accepted',
    async () => {
      const answer = await carol.post('/api/runs', {
        workflow: 'refund-desk',
        input: 'Please refund $20 for order #R1',
        idempotencyKey,
      });
      return answer.status === 503 ? undefined : answer;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  const firstAcceptedMs = Date.now() - tReady;
  assert.equal(
    accepted.status,
    201,
    `the refused start did not create its run: ${JSON.stringify(accepted.body)}`,
  );
  ctx.runs.set(accepted.body.runId as string, { refunds: 1 });

  // Every run in flight finishes; the paused one still waits, and takes its decision.
  await waitFor(
    'every run in flight to finish',
    async () =>
      (await Promise.all([...inFlight, accepted.body.runId].map((id) => statusOf(carol, id)))).every(
        (s) => s === 'completed',
      ),
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  const runsSettledMs = Date.now() - tReady;
  assert.equal(await statusOf(alice, waitingRunId), 'waiting');
  const decided = await alice.post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
  assert.equal(decided.status, 200, JSON.stringify(decided.body));
  await waitFor(
    'the approved run to complete',
    async () => (await statusOf(alice, waitingRunId)) === 'completed',
    {
      timeoutMs: 30_000,
    },
  );
  await ctx.acked.record(carol, ctx.runs.keys());

  const figures: FaultFigures = {
    fault,
    runsInFlight: running.length,
    detectMs,
    degradedMs,
    recoverMs,
    firstAcceptedMs,
    runsSettledMs,
    refusals,
  };
  ctx.figures.push(figures);
  return figures;
}

/** One refund row per run that was meant to refund (auto or approved), none twice. */
export async function assertLedger(ctx: FaultContext): Promise<{ refunds: number }> {
  const api = ctx.server.client('alice');
  let refunds = 0;
  for (const [runId, expected] of ctx.runs) {
    const rows = (await api.get(`/api/refunds?runId=${runId}`)).body.refunds as unknown[];
    assert.equal(
      rows.length,
      expected.refunds,
      `run ${runId}: ${rows.length} refund(s), expected ${expected.refunds}`,
    );
    refunds += rows.length;
  }
  return { refunds };
}

/** After the faults: every acknowledged event is in the topic, each run's chain is whole, and the server's store is the topic. */
export async function assertNothingLost(
  ctx: FaultContext,
): Promise<{ acknowledged: number; lost: number; audit: TopicAudit }> {
  const audit = await auditTopic(ctx.broker.brokers);
  const lost = lostEvents(ctx.acked, audit);
  assert.deepEqual(lost, [], 'acknowledged events missing from the topic');
  assert.equal(audit.conflicts, 0, 'two histories of one (run, seq) in the topic');
  assert.deepEqual(audit.brokenChains, []);
  const api = ctx.server.client('alice');
  for (const runId of ctx.runs.keys()) {
    assert.deepStrictEqual(
      (await eventsOf(api, runId)).map((e) => e.hash),
      (audit.byRun.get(runId) ?? []).map((e) => e.hash),
      `run ${runId}: the server's store and the topic differ`,
    );
  }
  return { acknowledged: ctx.acked.count(), lost: lost.length, audit };
}
