/**
/*
 * (Over 400 lines: one benchmark with its own server processes, clients and figures, read top to bottom.)
 */
/**
 * 6. Fan-out: run events of one debate delivered to N (500) WebSocket clients that watch it.
 *
 * Real server processes (`ParleyProcess`, the in-process offline model with no token delay) and
 * real `socket.io-client` connections (WebSocket transport, one connection each), spread over
 * `BENCH_FANOUT_PROCESSES` (2) child processes (fanout-clients-process.ts), as users would be spread
 * over their own machines: one event loop receiving for all 500 would add its own queueing delay
 * to every figure. Per debate: start it over REST (`POST /api/runs`), wait until it waits for the human
 * floor (after the opening round), have every client `run:watch` it (from the head), then answer
 * the floor (`POST /api/runs/:id/messages` as carol): the debate runs its last turns and completes
 * live. Latency of one delivery = time the client's `run:event` handler runs - the event's `at`
 * (set when the event is sealed, just before it is appended; same machine, same clock, ms).
 *
 * - sqlite: one instance.
 * - kafka: two instances (same fresh topic prefix), the clients on A, each debate owned by B (runs
 *   that land on A are cancelled and started again), so every delivery crossed Kafka. Then a
 *   takeover: SIGKILL B while it owns a waiting debate, time until A owns it (`GET /api/cluster`).
 *
 * `BENCH_FANOUT_CLIENTS` overrides the number of clients (default 500, times BENCH_SCALE).
 */
import { join } from 'node:path';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import { ChildRpc, ParleyProcess, procStats, shares, waitFor } from '@parley/testing';
import { dropCluster, status, waitBalanced } from '../../test/e2e/cluster/cluster-helpers';
import { log, report, scaled, stores, summarize } from './common';
import { connectClients, type Client } from './fanout-client';
import type { ClientsRequest, Collected } from './fanout-clients-process';

const SESSION_TIMEOUT_MS = 6_000;
const MOTION = 'Remote work is better than office work';
/** The clients run in this many child processes (`BENCH_FANOUT_PROCESSES`), as users on their own machines would. */
/**
 * The offline model's delay per token (`BENCH_FANOUT_TOKEN_MS`, default 0: a debate's turns come in a
 * burst, the harshest case; 20 is about the pace of a hosted model streaming 50 tokens/s).
 */
const TOKEN_MS = Math.max(0, Number(process.env.BENCH_FANOUT_TOKEN_MS ?? 0));
const CLIENT_PROCESSES = Math.max(1, Number(process.env.BENCH_FANOUT_PROCESSES ?? 2));

const load = (): number => Number(os.loadavg()[0].toFixed(2));

/** Wall time, the client processes' CPU and the server's CPU over the measured debates. */
class CpuMeter {
  private wall = 0;
  private client = 0;
  private server = 0;
  private t0 = 0;
  private c0 = 0;
  private s0 = 0;
  /** The client processes' event-loop delay (the worst of them): a busy client delays its own receive times. */
  loopDelayP99Ms = 0;
  loopDelayMaxMs = 0;
  constructor(
    private readonly proc: ParleyProcess,
    private readonly clients: ClientProcesses,
  ) {}
  start(): void {
    this.t0 = Date.now();
    this.c0 = this.clients.cpuMs();
    this.s0 = procStats(this.proc.child.pid).cpuMs;
  }
  stop(loop: { loopDelayP99Ms: number; loopDelayMaxMs: number }): void {
    this.wall += Date.now() - this.t0;
    this.client += this.clients.cpuMs() - this.c0;
    this.server += procStats(this.proc.child.pid).cpuMs - this.s0;
    this.loopDelayP99Ms = Math.max(this.loopDelayP99Ms, loop.loopDelayP99Ms);
    this.loopDelayMaxMs = Math.max(this.loopDelayMaxMs, loop.loopDelayMaxMs);
  }
  get figures(): Record<string, number> {
    return {
      measuredWallMs: this.wall,
      clientsCpuShare: Number((this.client / this.wall).toFixed(2)),
      serverCpuShare: Number((this.server / this.wall).toFixed(2)),
      clientsLoopDelayP99Ms: Number(this.loopDelayP99Ms.toFixed(1)),
      clientsLoopDelayMaxMs: Number(this.loopDelayMaxMs.toFixed(1)),
    };
  }
}

/** The clients, spread over `procs` child processes (fanout-clients-process.ts), driven over IPC. */
class ClientProcesses {
  private constructor(
    private readonly children: ChildRpc<ClientsRequest>[],
    readonly connect: { allMs: number; each: number[] },
  ) {}

  static async start(url: string, n: number, procs: number): Promise<ClientProcesses> {
    const children = Array.from({ length: procs }, () =>
      ChildRpc.fork<ClientsRequest>(join(__dirname, 'fanout-clients-process.js')),
    );
    const t0 = Date.now();
    let offset = 0;
    const connected = await Promise.all(
      shares(n, procs).map((count, i) => {
        const request: ClientsRequest = { type: 'connect', url, n: count, offset };
        offset += count;
        return children[i].ask<{ allMs: number; each: number[] }>(request);
      }),
    );
    return new ClientProcesses(children, { allMs: Date.now() - t0, each: connected.flatMap((c) => c.each) });
  }

  async watch(runId: string): Promise<number[]> {
    const answers = await Promise.all(this.children.map((c) => c.ask<number[]>({ type: 'watch', runId })));
    return answers.flat();
  }

  async collect(timeoutMs: number): Promise<Collected> {
    const answers = await Promise.all(
      this.children.map((c) => c.ask<Collected>({ type: 'collect', timeoutMs })),
    );
    return {
      clients: answers.flatMap((a) => a.clients),
      loopDelayP99Ms: Math.max(...answers.map((a) => a.loopDelayP99Ms)),
      loopDelayMaxMs: Math.max(...answers.map((a) => a.loopDelayMaxMs)),
    };
  }

  /** CPU time of the client processes so far (ms). */
  cpuMs(): number {
    return this.children.reduce((sum, c) => sum + procStats(c.process.pid).cpuMs, 0);
  }

  close(): void {
    for (const c of this.children) {
      if (c.process.connected) c.process.disconnect(); // the child exits when its parent goes
      setTimeout(() => c.process.kill('SIGKILL'), 2000).unref();
    }
  }
}

interface DebateSample {
  latencies: number[];
  events: number;
  deliveries: number;
  missing: number;
  /** Per event: the last client's receive time - at (the event has reached everyone). */
  lastDelivery: number[];
  /** Per event: the first client's receive time - at. */
  firstDelivery: number[];
  tokens: number;
}

/** Drive one debate (already waiting for the floor) with `clients` watching it live. */
async function measureDebate(
  clients: ClientProcesses,
  host: ParleyProcess,
  runId: string,
  cpu?: CpuMeter,
): Promise<DebateSample> {
  const heads = await clients.watch(runId);
  const head = Math.max(...heads);
  if (Math.min(...heads) !== head)
    throw new Error(`clients disagree on the head: ${Math.min(...heads)}..${head}`);
  cpu?.start();
  const answer = await host
    .client('carol')
    .post(`/api/runs/${runId}/messages`, { text: `A point from the floor ${randomUUID().slice(0, 6)}` });
  if (answer.status !== 201) throw new Error(`message: ${answer.status} ${JSON.stringify(answer.body)}`);
  const collected = await clients.collect(60_000);
  cpu?.stop(collected);
  const results = collected.clients;
  const events: EventEnvelope[] = (await host.client('victor').get(`/api/runs/${runId}/events`)).body.events;
  const live = events.filter((e) => e.seq > head);
  const latencies = results.flatMap((c) => c.latencies);
  const received = results.map((c) => new Map(c.received));
  const lastDelivery: number[] = [];
  const firstDelivery: number[] = [];
  for (const e of live) {
    let first = Infinity;
    let last = 0;
    for (const r of received) {
      const t = r.get(e.seq);
      if (t === undefined) continue;
      first = Math.min(first, t);
      last = Math.max(last, t);
    }
    firstDelivery.push(first - Date.parse(e.at));
    lastDelivery.push(last - Date.parse(e.at));
    if (process.env.BENCH_FANOUT_TRACE)
      log(
        `  seq ${e.seq} ${e.type} at +${Date.parse(e.at) - Date.parse(live[0].at)} ms: first client +${first - Date.parse(e.at)} ms, last +${last - Date.parse(e.at)} ms`,
      );
  }
  const deliveries = latencies.length;
  return {
    latencies,
    events: live.length,
    deliveries,
    missing: live.length * results.length - deliveries,
    lastDelivery,
    firstDelivery,
    tokens: results.reduce((s, c) => s + c.tokens, 0),
  };
}

async function startDebate(host: ParleyProcess): Promise<string> {
  const started = await host
    .client('carol')
    .post('/api/runs', { workflow: 'debate', input: `${MOTION} (${randomUUID().slice(0, 8)})` });
  if (started.status !== 201) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  return started.body.runId as string;
}

async function waitingForFloor(host: ParleyProcess, runId: string): Promise<void> {
  await waitFor(
    `debate ${runId} to wait for the floor`,
    async () => {
      const run = (await host.client('victor').get(`/api/runs/${runId}`)).body;
      return run.status === 'waiting' && run.pendingRequests?.length === 1;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
}

function merge(samples: DebateSample[]): DebateSample {
  return {
    latencies: samples.flatMap((s) => s.latencies),
    events: samples.reduce((s, x) => s + x.events, 0),
    deliveries: samples.reduce((s, x) => s + x.deliveries, 0),
    missing: samples.reduce((s, x) => s + x.missing, 0),
    lastDelivery: samples.flatMap((s) => s.lastDelivery),
    firstDelivery: samples.flatMap((s) => s.firstDelivery),
    tokens: samples.reduce((s, x) => s + x.tokens, 0),
  };
}

function reportFanout(
  store: 'sqlite' | 'kafka',
  name: string,
  target: number,
  n: number,
  debates: number,
  all: DebateSample,
  connect: { allMs: number; each: number[] },
  loads: number[],
  cpu: CpuMeter,
): void {
  const s = summarize(all.latencies);
  const last = summarize(all.lastDelivery);
  const first = summarize(all.firstDelivery);
  const c = summarize(connect.each);
  report({
    bench: 'fanout',
    name,
    store,
    value: s.p99,
    unit: 'ms p99',
    target: `<= ${target} ms`,
    met: s.p99 <= target && all.missing === 0,
    extra: {
      p50Ms: s.p50,
      meanMs: s.mean,
      maxMs: s.max,
      clients: n,
      debates,
      events: all.events,
      deliveries: all.deliveries,
      missing: all.missing,
      firstClientP50Ms: first.p50,
      firstClientP99Ms: first.p99,
      lastClientP50Ms: last.p50,
      lastClientP99Ms: last.p99,
      tokensPerClient: Math.round(all.tokens / n),
      connectAllMs: connect.allMs,
      connectP50Ms: c.p50,
      connectP99Ms: c.p99,
      ...cpu.figures,
      load1m: `${loads[0]}->${loads[1]}`,
    },
  });
}

function tail(p: ParleyProcess | undefined): string {
  return p ? p.output.join('').split('\n').slice(-30).join('\n') : '';
}

// ---------------------------------------------------------------- one instance (SQLite)

async function oneInstance(n: number): Promise<void> {
  const debates = scaled(10);
  let server: ParleyProcess | undefined;
  let clients: ClientProcesses | undefined;
  try {
    server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: String(TOKEN_MS) } });
    log(
      `fanout/sqlite: server at ${server.url}; connecting ${n} clients from ${CLIENT_PROCESSES} processes (load ${load()})`,
    );
    clients = await ClientProcesses.start(server.url, n, CLIENT_PROCESSES);
    const connected = clients.connect;
    log(`fanout/sqlite: ${n} clients connected in ${connected.allMs} ms`);
    const loads = [load(), 0];
    const samples: DebateSample[] = [];
    const cpu = new CpuMeter(server, clients);
    for (let i = 0; i <= debates; i++) {
      const runId = await startDebate(server);
      await waitingForFloor(server, runId);
      const sample = await measureDebate(clients, server, runId, i > 0 ? cpu : undefined);
      if (i > 0) samples.push(sample); // the first one is a warm-up
      log(
        `fanout/sqlite: debate ${i}${i ? '' : ' (warm-up)'}: ${sample.events} events, p99 ${summarize(sample.latencies).p99} ms, missing ${sample.missing}`,
      );
    }
    loads[1] = load();
    reportFanout(
      'sqlite',
      `run event -> ${n} clients, one instance${TOKEN_MS ? `, model ${TOKEN_MS} ms/token` : ''}`,
      50,
      n,
      debates,
      merge(samples),
      connected,
      loads,
      cpu,
    );
  } catch (error) {
    log(`fanout/sqlite failed; server output:\n${tail(server)}`);
    throw error;
  } finally {
    clients?.close();
    await server?.dispose();
  }
}

// ---------------------------------------------------------------- two instances (Kafka)

async function ownedHere(instance: ParleyProcess, runId: string): Promise<boolean> {
  return !!(await status(instance, runId)).run?.ownedHere;
}

/** Start debates on `b` until one is owned by `b` (the others are cancelled); it waits for the floor. */
async function debateOwnedBy(a: ParleyProcess, b: ParleyProcess): Promise<string> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const runId = await startDebate(b);
    const owner = await waitFor(
      `the owner of ${runId}`,
      async () => {
        const [onA, onB] = await Promise.all([ownedHere(a, runId), ownedHere(b, runId)]);
        if (onA && onB) throw new Error(`run ${runId} has two owners`);
        return onA ? 'a' : onB ? 'b' : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    if (owner === 'b') {
      await waitingForFloor(b, runId);
      await waitingForFloor(a, runId); // A's copy of the log has caught up too (its watchers start from its head)
      return runId;
    }
    const cancelled = await a
      .client('carol')
      .post(`/api/runs/${runId}/cancel`, { reason: 'bench: owned by the wrong instance' });
    if (cancelled.status !== 200)
      throw new Error(`cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
  }
  throw new Error('no debate landed on instance B in 40 attempts');
}

/** The consumer groups dropCluster leaves: those of the SIGKILLed instance (the others leave theirs on shutdown). */
async function dropGroups(brokers: string, prefix: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'bench-fanout-cleanup',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => g.startsWith(`${prefix}-`));
    if (groups.length) await admin.deleteGroups(groups);
  } finally {
    await admin.disconnect();
  }
}

async function acrossInstances(n: number): Promise<void> {
  const debates = scaled(6);
  const brokers = process.env.KAFKA_BROKERS!;
  const prefix = `bench-fanout-${randomUUID().slice(0, 8)}`;
  const start = (id: string): Promise<ParleyProcess> =>
    ParleyProcess.start({
      eventLog: 'kafka',
      env: {
        OFFLINE_MODEL_TOKEN_LATENCY_MS: String(TOKEN_MS),
        KAFKA_BROKERS: brokers,
        PARLEY_INSTANCE_ID: `${prefix}-${id}`,
        PARLEY_KAFKA_TOPIC_PREFIX: prefix,
        PARLEY_KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        PARLEY_KAFKA_HEARTBEAT_MS: '500',
      },
    });
  let a: ParleyProcess | undefined;
  let b: ParleyProcess | undefined;
  let clients: ClientProcesses | undefined;
  let watched: Client[] = [];
  try {
    a = await start('a'); // creates the topics
    b = await start('b');
    await waitBalanced([a, b]);
    log(
      `fanout/kafka: instances ${a.url} (clients) and ${b.url} (owner), prefix ${prefix}; connecting ${n} clients (load ${load()})`,
    );
    clients = await ClientProcesses.start(a.url, n, CLIENT_PROCESSES);
    const connected = clients.connect;
    log(`fanout/kafka: ${n} clients connected to A in ${connected.allMs} ms`);
    const loads = [load(), 0];
    const samples: DebateSample[] = [];
    const cpu = new CpuMeter(a, clients); // the clients' instance: it consumes from Kafka and fans out
    for (let i = 0; i <= debates; i++) {
      const runId = await debateOwnedBy(a, b);
      const sample = await measureDebate(clients, b, runId, i > 0 ? cpu : undefined);
      if (i > 0) samples.push(sample);
      log(
        `fanout/kafka: debate ${i}${i ? '' : ' (warm-up)'}: ${sample.events} events, p99 ${summarize(sample.latencies).p99} ms, missing ${sample.missing}`,
      );
    }
    loads[1] = load();
    reportFanout(
      'kafka',
      `run event on B -> ${n} clients on A (via Kafka)${TOKEN_MS ? `, model ${TOKEN_MS} ms/token` : ''}`,
      100,
      n,
      debates,
      merge(samples),
      connected,
      loads,
      cpu,
    );

    // Takeover: B owns a debate waiting for the floor; SIGKILL B; A must own it within the session timeout + 2 s.
    // 50 watchers, in this process (what is timed here is the takeover, not the fan-out).
    clients.close();
    clients = undefined;
    watched = (await connectClients(a.url, Math.min(50, n))).clients;
    const runId = await debateOwnedBy(a, b);
    const head = Math.max(...(await Promise.all(watched.map((c) => c.watch(runId)))));
    const loadBefore = load();
    const killedAt = Date.now();
    await b.kill();
    // Answered through the survivor at once: the command waits for the run's next owner.
    const answered = a.client('carol').post(`/api/runs/${runId}/messages`, { text: 'Still there?' });
    await waitFor(`A to own ${runId}`, () => ownedHere(a!, runId), { timeoutMs: 60_000, intervalMs: 50 });
    const takeoverMs = Date.now() - killedAt;
    await waitFor('the first event written by the survivor', () => watched[0].received.size > 0, {
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    const firstEventMs = Math.min(...watched[0].received.values()) - killedAt;
    const reply = await answered;
    if (reply.status !== 201)
      throw new Error(`message after the kill: ${reply.status} ${JSON.stringify(reply.body)}`);
    await Promise.race([
      Promise.all(watched.map((c) => c.done)),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the taken-over debate did not complete in 60 s')), 60_000).unref(),
      ),
    ]);
    const stored: EventEnvelope[] = (await a.client('victor').get(`/api/runs/${runId}/events`)).body.events;
    const contiguous = stored.every((e, i) => e.seq === i + 1) && stored.at(-1)?.type === 'run.completed';
    const seen = watched.every((c) => c.received.size === stored.length - head);
    const target = SESSION_TIMEOUT_MS + 2_000;
    report({
      bench: 'fanout',
      name: 'takeover: SIGKILL of the owner -> survivor owns the waiting debate',
      store: 'kafka',
      value: takeoverMs,
      unit: 'ms',
      target: `<= ${target} ms (session timeout ${SESSION_TIMEOUT_MS} + 2 s)`,
      met: takeoverMs <= target && contiguous && seen,
      extra: {
        firstEventAfterKillMs: firstEventMs,
        completed: contiguous,
        watchersSawEveryEvent: seen,
        load1m: loadBefore,
      },
    });
  } catch (error) {
    log(`fanout/kafka failed; output of A:\n${tail(a)}\noutput of B:\n${tail(b)}`);
    throw error;
  } finally {
    clients?.close();
    for (const c of watched) c.socket.close();
    await Promise.all([a?.dispose(), b?.dispose()]);
    await dropCluster(prefix).catch((error: unknown) =>
      log(`fanout/kafka: dropping ${prefix}: ${String(error)}`),
    );
    // Best effort: the killed instance's group is refused while its dead member's session lasts;
    // the broker removes such empty, offset-less groups by itself later.
    await dropGroups(brokers, prefix).catch(() =>
      log(`fanout/kafka: the killed instance's consumer group ${prefix}-* is left to the broker to expire`),
    );
  }
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_FANOUT_CLIENTS ?? scaled(500));
  for (const kind of stores()) {
    if (kind === 'sqlite') await oneInstance(n);
    else await acrossInstances(n);
  }
  log('fanout: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
