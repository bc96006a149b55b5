/*
 * (Over 400 lines: one benchmark with its own server process, clients and in-process twin, read top to bottom.)
 */
/**
 * 10. The front door: the same runs driven through a real server process over REST (completion and
 * pauses seen over socket.io), and in-process through the real RunEngine, in the same run, so the
 * ratio is printed beside the figures. Both use the real OpenAiModelGateway against the offline model
 * over HTTP (token latency 0), which runs in its own child process: neither side's CPU includes it.
 *
 * - one at a time (content-pipeline: two reviews): start -> paused at review 1, decision -> paused at
 *   review 2, decision -> run.completed; latency p50/p99 and CPU per operation (the server child's
 *   CPU from /proc/<pid>/stat; in-process: this process's);
 * - resumes/s with 16 and 64 decisions in flight (runs paused at review 1 -> paused at review 2);
 * - N (10,000) paused refund-desk runs: bytes on disk per paused run after a clean shutdown, a new
 *   server process on the folder (time until /health answers), every run resumed through REST with
 *   64 in flight (completion counted on /metrics), peak RSS, bytes on disk per finished run; and the
 *   same resumes driven in-process on a copy of the folder's log.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import type { EventEnvelope, RunEvent } from '@parley/contracts';
import { SqliteEventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { OpenAiModelGateway } from '@parley/llm';
import { ParleyProcess, TEST_USERS, allOpenRequests, procStats, type TestUser } from '@parley/testing';
import { RunsProjection } from '../../apps/server/src/projections/runs.projection';
import {
  EventCounter,
  Harness,
  REPO_ROOT,
  approve,
  cpuMs,
  fixture,
  log,
  now,
  openStore,
  profiled,
  report,
  scaled,
  summarize,
  type Fixture,
} from './common';

const CP_INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';
const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

// ---------------------------------------------------------------- helpers

/** One-shot waits by key; an event fired before anyone waits is queued for the next `wait`. */
class Waiters<T> {
  private readonly map = new Map<string, Array<(value: T) => void>>();
  private readonly early = new Map<string, T[]>();
  wait(key: string): Promise<T> {
    const q = this.early.get(key);
    if (q?.length) {
      const v = q.shift()!;
      if (!q.length) this.early.delete(key);
      return Promise.resolve(v);
    }
    return new Promise((resolve) => {
      const list = this.map.get(key) ?? [];
      list.push(resolve);
      this.map.set(key, list);
    });
  }
  fire(key: string, value: T): void {
    const list = this.map.get(key);
    if (list?.length) {
      list.shift()!(value);
      if (!list.length) this.map.delete(key);
    } else this.early.set(key, [...(this.early.get(key) ?? []), value]);
  }
}

async function pool(total: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
}

/** The offline model in its own process (bin/model-offline.js, token latency 0). */
async function startOfflineChild(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'model-offline.js')], {
    env: { ...process.env, PORT: '0', OFFLINE_MODEL_TOKEN_LATENCY_MS: '0', OFFLINE_MODEL_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /(http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`offline model exited (${code})`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Peak RSS (VmHWM) of a process, bytes. */
function peakRss(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1] ?? NaN) * 1024;
}

/**
 * Bytes of the SQLite log (events.db, -wal, -shm) in a data folder, and of the read model a clean
 * shutdown keeps beside it (read-model.checkpoint): the total counts both.
 */
function logBytes(dir: string): { db: number; wal: number; readModel: number; total: number } {
  const size = (f: string): number => (existsSync(join(dir, f)) ? statSync(join(dir, f)).size : 0);
  const db = size('events.db');
  const wal = size('events.db-wal');
  const readModel = size('read-model.checkpoint');
  return { db, wal, readModel, total: db + wal + size('events.db-shm') + readModel };
}

/**
 * What the server children get from the bench's environment: `BENCH_SERVER_PROFILE=<dir>` makes each
 * write a V8 CPU profile there when it exits (`--cpu-prof`; summarise with
 * `node scripts/bench/profile-top.mjs <file>`), and the bench writes `<dir>/window-<pid>.json` with
 * the time span of the measured one-at-a-time REST phase, which profile-top then keeps alone (start-up,
 * warm-up and the later phases left out); `BENCH_SQLITE_SYNC=normal` runs their log with
 * `synchronous = NORMAL` (the default stays FULL), to measure what FULL costs;
 * `BENCH_SERVER_LOG_FORMAT=text` gives them text logs instead of the JSON lines a deployment writes.
 */
function serverOptions(): { env: Record<string, string>; nodeArgs: string[] } {
  const env: Record<string, string> = {};
  const nodeArgs: string[] = [];
  const dir = process.env.BENCH_SERVER_PROFILE;
  if (dir) {
    mkdirSync(resolvePath(dir), { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${resolvePath(dir)}`);
  }
  if (process.env.BENCH_SQLITE_SYNC) env.PARLEY_SQLITE_SYNC = process.env.BENCH_SQLITE_SYNC;
  if (process.env.BENCH_SERVER_LOG_FORMAT) env.PARLEY_LOG_FORMAT = process.env.BENCH_SERVER_LOG_FORMAT;
  return { env, nodeArgs };
}

/** Microseconds on the monotonic clock, the clock of a V8 CPU profile's timestamps. */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** `BENCH_SERVER_PROFILE`: the span of a measured phase of the server `pid`, for profile-top. */
function writeProfileWindow(
  pid: number | undefined,
  phase: string,
  startUs: number,
  endUs: number,
  parts?: Record<string, [number, number]>,
): void {
  const dir = process.env.BENCH_SERVER_PROFILE;
  if (!dir) return;
  writeFileSync(
    join(resolvePath(dir), `window-${pid}.json`),
    JSON.stringify({ pid, phase, startUs, endUs, parts }),
  );
}

/**
 * `BENCH_FRONTDOOR_PARTS`: which parts run, comma-separated, of `seq` (one at a time), `inflight`
 * (16 and 64 in flight) and `paused` (the N paused runs restarted); all by default. `seq` alone makes
 * a long one-at-a-time run (with `BENCH_FRONTDOOR_RUNS`) quick enough to repeat for an A/B.
 */
function parts(): Set<string> {
  const raw = process.env.BENCH_FRONTDOOR_PARTS;
  const known = ['seq', 'inflight', 'paused'];
  if (!raw) return new Set(known);
  const list = raw.split(',').map((s) => s.trim());
  const bad = list.filter((x) => !known.includes(x));
  if (bad.length)
    throw new Error(`BENCH_FRONTDOOR_PARTS: unknown ${bad.join(', ')} (known: ${known.join(', ')})`);
  return new Set(list);
}

/** A server process with the offline model over HTTP, a socket that sees every run it watches. */
class Door {
  private readonly waiters = new Waiters<RunEvent>();
  private readonly seen = new Map<string, number>();
  private socket!: Socket;
  private constructor(readonly server: ParleyProcess) {}

  static async open(modelUrl: string, env: Record<string, string> = {}, dataDir?: string): Promise<Door> {
    const { env: benchEnv, nodeArgs } = serverOptions();
    const server = await ParleyProcess.start({
      dataDir,
      nodeArgs,
      env: {
        OPENAI_BASE_URL: modelUrl,
        OPENAI_API_KEY: 'offline',
        PARLEY_LOG_FORMAT: 'json',
        ...benchEnv,
        ...env,
      },
    });
    const door = new Door(server);
    door.socket = io(server.url, {
      auth: { token: TEST_USERS.admin.token },
      transports: ['websocket'],
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      door.socket.once('connect', () => resolve());
      door.socket.once('connect_error', reject);
    });
    door.socket.on('run:event', (e: EventEnvelope) => {
      if ((door.seen.get(e.runId) ?? 0) >= e.seq) return;
      door.seen.set(e.runId, e.seq);
      door.waiters.fire(`${e.type}:${e.runId}`, e as unknown as RunEvent);
      if (TERMINAL.has(e.type) && e.type !== 'run.completed')
        door.waiters.fire(`run.completed:${e.runId}`, e as unknown as RunEvent);
    });
    return door;
  }

  get pid(): number | undefined {
    return this.server.child.pid;
  }
  cpuMs(): number {
    return procStats(this.pid).cpuMs;
  }

  async post(user: TestUser, path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_USERS[user].token}` },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  async get(user: TestUser | null, path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.server.url}${path}`, {
      headers: user ? { authorization: `Bearer ${TEST_USERS[user].token}` } : {},
    });
    return { status: res.status, text: await res.text() };
  }

  /** Start a run over REST and watch it (from its first event). */
  async start(workflow: string, input: string, user: TestUser = 'carol'): Promise<string> {
    const { runId } = (await this.post(user, '/api/runs', { workflow, input })) as { runId: string };
    await this.emitAcked('run:watch', { runId, afterSeq: 0 });
    return runId;
  }

  /**
   * A socket message whose ack is checked: a connection may send 20 messages a second (bursts of 40),
   * and a fast machine starts and watches runs faster than that; a refused watch would leave the
   * bench waiting for events that never come, so a `RATE_LIMITED` ack is waited out and sent again.
   */
  private async emitAcked(event: string, payload: unknown): Promise<void> {
    for (;;) {
      const ack = (await this.socket.timeout(30_000).emitWithAck(event, payload)) as {
        ok: boolean;
        error?: { code: string; message: string };
      };
      if (ack.ok) return;
      if (ack.error?.code !== 'RATE_LIMITED')
        throw new Error(`${event}: ${ack.error?.code} ${ack.error?.message}`);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }

  next(type: string, runId: string): Promise<RunEvent> {
    return this.waiters.wait(`${type}:${runId}`);
  }

  async unwatch(runId: string): Promise<void> {
    await this.emitAcked('run:unwatch', { runId });
    this.seen.delete(runId);
  }

  async decide(requestId: string, user: TestUser = 'alice'): Promise<void> {
    await this.post(user, `/api/requests/${requestId}/decision`, { decision: 'approve' });
  }

  /** A counter or gauge of /metrics, summed over the series whose labels contain `labels`. */
  async metric(name: string, labels = ''): Promise<number> {
    const { text } = await this.get(null, '/metrics');
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(' ').pop());
    return sum;
  }

  async stop(): Promise<void> {
    this.socket.close();
    await this.server.stop();
  }
}

/** The in-process twin: RunEngine + OpenAiModelGateway to the same offline model, on a SQLite log. */
class InProcess {
  private readonly waiters = new Waiters<RunEvent>();
  readonly harness: Harness;
  /**
   * Runs whose tokens someone watches, as the REST side's socket watches each run once its start
   * has answered: from then on their model calls stream (tokens to a no-op), before that they are
   * asked whole, on both sides alike.
   */
  readonly watched = new Set<string>();
  private constructor(
    readonly store: SqliteEventStore,
    models: OpenAiModelGateway,
    fx: Fixture,
  ) {
    this.harness = new Harness(store, models, fx.tools, {
      onAppended: (events) => {
        for (const e of events) this.waiters.fire(`${e.type}:${e.runId}`, e);
      },
      onToken: () => undefined,
      tokensWatched: (runId) => this.watched.has(runId),
    });
  }
  static create(store: SqliteEventStore, models: OpenAiModelGateway, fx: Fixture): InProcess {
    return new InProcess(store, models, fx);
  }
  next(type: string, runId: string): Promise<RunEvent> {
    return this.waiters.wait(`${type}:${runId}`);
  }
}

type Opened = Extract<RunEvent, { type: 'human-request.opened' }>;
const requestOf = (e: RunEvent): string => (e as Opened).data.requestId;

interface Phase {
  lat: number[];
  cpu: number;
  /** Its span on the monotonic clock (µs), for a profile's samples. */
  span: [number, number];
}

/** The three one-at-a-time operations, for either side. */
interface Side {
  cpuMs(): number;
  start(): Promise<string>;
  next(type: string, runId: string): Promise<RunEvent>;
  decide(runId: string, requestId: string): Promise<void>;
}

async function oneAtATime(side: Side, runs: number): Promise<Record<'start' | 'resume' | 'finish', Phase>> {
  const phases = {
    start: { lat: [], cpu: 0, span: [0, 0] },
    resume: { lat: [], cpu: 0, span: [0, 0] },
    finish: { lat: [], cpu: 0, span: [0, 0] },
  } as Record<'start' | 'resume' | 'finish', Phase>;
  const ids: Array<{ runId: string; opened: Promise<RunEvent> }> = [];
  // start -> paused at review 1
  let c0 = side.cpuMs();
  phases.start.span[0] = monoUs();
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    const runId = await side.start();
    const opened = await side.next('human-request.opened', runId);
    phases.start.lat.push(now() - t0);
    ids.push({ runId, opened: Promise.resolve(opened) });
  }
  phases.start.cpu = side.cpuMs() - c0;
  phases.start.span[1] = monoUs();
  // decision -> paused at review 2
  c0 = side.cpuMs();
  phases.resume.span[0] = monoUs();
  for (const r of ids) {
    const request = requestOf(await r.opened);
    const next = side.next('human-request.opened', r.runId);
    const t0 = now();
    await side.decide(r.runId, request);
    r.opened = Promise.resolve(await next);
    phases.resume.lat.push(now() - t0);
  }
  phases.resume.cpu = side.cpuMs() - c0;
  phases.resume.span[1] = monoUs();
  // decision -> run.completed
  c0 = side.cpuMs();
  phases.finish.span[0] = monoUs();
  for (const r of ids) {
    const request = requestOf(await r.opened);
    const done = side.next('run.completed', r.runId);
    const t0 = now();
    await side.decide(r.runId, request);
    const end = await done;
    if (end.type !== 'run.completed') throw new Error(`run ${r.runId} ended with ${end.type}`);
    phases.finish.lat.push(now() - t0);
  }
  phases.finish.cpu = side.cpuMs() - c0;
  phases.finish.span[1] = monoUs();
  return phases;
}

/** Runs paused at review 1, then resumed to review 2 with `inFlight` decisions at once: resumes/s. */
async function inFlightResumes(
  side: Side,
  runs: number,
  inFlight: number,
): Promise<{ perSecond: number; cpuMsPerResume: number }> {
  const paused: Array<{ runId: string; requestId: string }> = [];
  await pool(runs, inFlight, async () => {
    const runId = await side.start();
    paused.push({ runId, requestId: requestOf(await side.next('human-request.opened', runId)) });
  });
  const t0 = now();
  const c0 = side.cpuMs();
  await pool(paused.length, inFlight, async (i) => {
    const next = side.next('human-request.opened', paused[i].runId);
    await side.decide(paused[i].runId, paused[i].requestId);
    await next;
  });
  const seconds = (now() - t0) / 1000;
  return { perSecond: paused.length / seconds, cpuMsPerResume: (side.cpuMs() - c0) / paused.length };
}

function restSide(door: Door): Side {
  let turn = 0;
  return {
    cpuMs: () => door.cpuMs(),
    start: () => door.start('content-pipeline', CP_INPUT, turn++ % 2 ? 'carol' : 'maya'),
    next: (type, runId) => door.next(type, runId),
    decide: (_runId, requestId) => door.decide(requestId, turn++ % 2 ? 'alice' : 'bob'),
  };
}

function inProcessSide(twin: InProcess, fx: Fixture): Side {
  return {
    cpuMs,
    start: async () => {
      const { runId } = await twin.harness.start(fx.workflows['content-pipeline'], CP_INPUT);
      twin.watched.add(runId); // as the REST side watches the run once its start answered
      return runId;
    },
    next: (type, runId) => twin.next(type, runId),
    decide: (runId, requestId) => approve(twin.harness.engine, runId, requestId),
  };
}

// ---------------------------------------------------------------- the benchmark

async function main(): Promise<void> {
  const fx = fixture();
  const offline = await startOfflineChild();
  const models = new OpenAiModelGateway({
    defaultProvider: { baseURL: offline.url, apiKey: 'offline' },
    maxRetries: 0,
  });
  // BENCH_FRONTDOOR_RUNS: runs one at a time (default scaled(200)), to steady the CPU figures of a
  // smoke run without scaling the 10,000 paused runs with them
  const seqRuns = Number(process.env.BENCH_FRONTDOOR_RUNS) || scaled(200);
  const tputRuns = scaled(320);
  const run = parts();
  try {
    // ---- one at a time, and in flight: REST and in-process, interleaved in this run
    const door = await Door.open(offline.url);
    const opened = await openStore('sqlite', 'frontdoor');
    const twin = InProcess.create(opened.store as SqliteEventStore, models, fx);
    const rest = restSide(door);
    const inproc = inProcessSide(twin, fx);
    try {
      if (run.has('seq')) {
        await oneAtATime(rest, Math.max(5, seqRuns / 10)); // warm-up
        await oneAtATime(inproc, Math.max(5, seqRuns / 10));
        const w0 = monoUs();
        const r = await oneAtATime(rest, seqRuns);
        writeProfileWindow(door.pid, 'one at a time (REST)', w0, monoUs(), {
          start: r.start.span,
          resume: r.resume.span,
          finish: r.finish.span,
        });
        // BENCH_PROFILE=<dir>: the in-process twin's same phase, profiled in this process
        const p = await profiled('frontdoor-in-process-one-at-a-time', () => oneAtATime(inproc, seqRuns));
        if (process.env.BENCH_PROFILE)
          writeFileSync(
            join(resolvePath(process.env.BENCH_PROFILE), 'frontdoor-in-process-one-at-a-time.window.json'),
            JSON.stringify({
              phase: 'one at a time (in-process)',
              startUs: p.start.span[0],
              endUs: p.finish.span[1],
              parts: { start: p.start.span, resume: p.resume.span, finish: p.finish.span },
            }),
          );
        const names = {
          start: 'start -> paused (human-request.opened)',
          resume: 'decision -> next pause',
          finish: 'decision -> run.completed',
        } as const;
        for (const k of ['start', 'resume', 'finish'] as const) {
          const sr = summarize(r[k].lat);
          const sp = summarize(p[k].lat);
          const cpuRest = r[k].cpu / seqRuns;
          const cpuIn = p[k].cpu / seqRuns;
          report({
            bench: 'frontdoor',
            name: `${names[k]}, content-pipeline, one at a time: server CPU beyond in-process`,
            store: 'sqlite',
            value: cpuRest - cpuIn,
            unit: 'ms CPU/op',
            ...(k !== 'finish' ? { target: '<= 1.5 ms', met: cpuRest - cpuIn <= 1.5 } : {}),
            extra: {
              restCpuMs: cpuRest,
              inProcessCpuMs: cpuIn,
              restP50Ms: sr.p50,
              restP99Ms: sr.p99,
              inProcessP50Ms: sp.p50,
              inProcessP99Ms: sp.p99,
              runs: seqRuns,
            },
          });
          if (k === 'resume')
            report({
              bench: 'frontdoor',
              name: 'decision -> next pause over REST (seen over socket.io)',
              store: 'sqlite',
              value: sr.p99,
              unit: 'ms p99',
              target: '<= 5 ms',
              met: sr.p99 <= 5,
              extra: { p50Ms: sr.p50, inProcessP99Ms: sp.p99 },
            });
        }
      }
      for (const inFlight of run.has('inflight') ? [16, 64] : []) {
        const a = await inFlightResumes(rest, tputRuns, inFlight);
        const b = await inFlightResumes(inproc, tputRuns, inFlight);
        const ratio = a.perSecond / b.perSecond;
        report({
          bench: 'frontdoor',
          name: `resumes/s with ${inFlight} in flight, REST / in-process`,
          store: 'sqlite',
          value: ratio,
          unit: 'x',
          ...(inFlight === 16 ? { target: '>= 0.8x', met: ratio >= 0.8 } : {}),
          extra: {
            restPerSecond: a.perSecond,
            inProcessPerSecond: b.perSecond,
            restServerCpuMsPerResume: a.cpuMsPerResume,
            inProcessCpuMsPerResume: b.cpuMsPerResume,
            runs: tputRuns,
          },
        });
      }
      report({
        bench: 'frontdoor',
        name: 'server peak RSS over the runs above',
        store: 'sqlite',
        value: peakRss(door.pid) / 2 ** 20,
        unit: 'MB',
      });
    } finally {
      await door.stop();
      keepLog(door.server.dataDir, 'pipeline');
      await twin.harness.engine.stop();
      await opened.dispose();
      rmSync(door.server.dataDir, { recursive: true, force: true });
    }

    if (run.has('paused')) await manyPaused(offline.url, models, fx, scaled(10_000));
  } finally {
    await offline.stop();
    fx.dispose();
  }
  log('frontdoor: done');
}

/**
 * BENCH_FRONTDOOR_KEEP=<folder>: a copy of the log after the clean shutdowns is left there
 * (`paused/events.db`, `finished/events.db`), to look into with sqlite3 (dbstat).
 */
function keepLog(dir: string, name: string): void {
  const keep = process.env.BENCH_FRONTDOOR_KEEP;
  if (!keep) return;
  const to = join(keep, name);
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(dir)) if (f.startsWith('events.db')) copyFileSync(join(dir, f), join(to, f));
}

async function manyPaused(
  modelUrl: string,
  models: OpenAiModelGateway,
  fx: Fixture,
  runs: number,
): Promise<void> {
  const label = `${runs.toLocaleString('en-US')} paused refund-desk runs`;
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-frontdoor-paused-'));
  const copy = mkdtempSync(join(tmpdir(), 'parley-bench-frontdoor-copy-'));
  try {
    // ---- create them through REST, 64 in flight; paused = /metrics says waiting == runs
    let door = await Door.open(modelUrl, {}, dir);
    const t0 = now();
    await pool(runs, 64, async (i) => {
      await door.post(i % 2 ? 'carol' : 'maya', '/api/runs', {
        workflow: 'refund-desk',
        input: `Please refund $${101 + (i % 400)} for order #M${i}, it arrived broken.`,
      });
    });
    for (;;) {
      const waiting = await door.metric('parley_runs_active', 'status="waiting"');
      const running = await door.metric('parley_runs_active', 'status="running"');
      if (waiting === runs && running === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const createSeconds = (now() - t0) / 1000;
    const createPeak = peakRss(door.pid);
    await door.stop();
    const pausedBytes = logBytes(dir);
    report({
      bench: 'frontdoor',
      name: `${label}: on disk per paused run after a clean shutdown (db + WAL + shm + read model)`,
      store: 'sqlite',
      value: pausedBytes.total / runs,
      unit: 'bytes',
      target: '<= 4 KB',
      met: pausedBytes.total / runs <= 4096,
      extra: {
        walBytes: pausedBytes.wal,
        dbBytesPerRun: pausedBytes.db / runs,
        readModelBytesPerRun: pausedBytes.readModel / runs,
        createdPerSecondRest: runs / createSeconds,
        peakRssMBWhileCreating: createPeak / 2 ** 20,
      },
    });
    for (const f of readdirSync(dir))
      if (f.startsWith('events.db')) copyFileSync(join(dir, f), join(copy, f));
    keepLog(dir, 'paused');

    // ---- a new server on the folder: /health, resume all with 64 in flight
    const l0 = now();
    door = await Door.open(modelUrl, {}, dir);
    while ((await door.get(null, '/health')).status !== 200) await new Promise((r) => setTimeout(r, 10));
    const healthMs = now() - l0;
    const list = { requests: await allOpenRequests(door.server.client('alice')) };
    if (list.requests.length !== runs)
      throw new Error(`${list.requests.length} open requests, expected ${runs}`);
    const a0 = now();
    const c0 = door.cpuMs();
    await pool(runs, 64, (i) => door.decide(list.requests[i].id, i % 2 ? 'alice' : 'bob'));
    while ((await door.metric('parley_runs_finished_total', 'status="completed"')) < runs)
      await new Promise((r) => setTimeout(r, 100));
    const restSeconds = (now() - a0) / 1000;
    const restCpu = door.cpuMs() - c0;
    const resumePeak = peakRss(door.pid);
    await door.stop();
    const finishedBytes = logBytes(dir);
    keepLog(dir, 'finished');

    // ---- the same resumes in-process, on the copy of the log
    const store = new SqliteEventStore({ dataDir: copy });
    const projection = new RunsProjection(store);
    await projection.start();
    const completed = new EventCounter('run.completed');
    const engine = new RunEngine({
      store,
      models,
      tools: fx.tools,
      onAppended: (events) => events.forEach((e) => completed.feed(e.type)),
      log: (line) => process.stderr.write(`[engine] ${line}\n`),
    });
    const requests = projection.listRequests({ status: 'open' });
    const i0 = now();
    const ic0 = cpuMs();
    await pool(requests.length, 64, (i) => approve(engine, requests[i].runId, requests[i].id));
    await completed.reach(runs);
    const inSeconds = (now() - i0) / 1000;
    const inCpu = cpuMs() - ic0;
    await engine.stop();
    projection.stop();
    await store.close();

    report({
      bench: 'frontdoor',
      name: `${label}: new server process, /health answers after launch`,
      store: 'sqlite',
      value: healthMs / 1000,
      unit: 's',
      target: '<= 1 s',
      met: healthMs <= 1000,
    });
    const ratio = inSeconds / restSeconds;
    report({
      bench: 'frontdoor',
      name: `${label}: resume all, 64 in flight, REST / in-process`,
      store: 'sqlite',
      value: ratio,
      unit: 'x',
      target: '>= 0.8x',
      met: ratio >= 0.8,
      extra: {
        restPerSecond: runs / restSeconds,
        inProcessPerSecond: runs / inSeconds,
        restServerCpuMsPerRun: restCpu / runs,
        inProcessCpuMsPerRun: inCpu / runs,
      },
    });
    report({
      bench: 'frontdoor',
      name: `${label}: server peak RSS (restart + resume all)`,
      store: 'sqlite',
      value: resumePeak / 2 ** 20,
      unit: 'MB',
      target: '<= 250 MB',
      met: resumePeak <= 250 * 2 ** 20,
    });
    report({
      bench: 'frontdoor',
      name: `${label}: on disk per finished run after a clean shutdown (db + WAL + shm + read model)`,
      store: 'sqlite',
      value: finishedBytes.total / runs,
      unit: 'bytes',
      target: '<= 9 KB',
      met: finishedBytes.total / runs <= 9 * 1024,
      extra: {
        walBytes: finishedBytes.wal,
        dbBytesPerRun: finishedBytes.db / runs,
        readModelBytesPerRun: finishedBytes.readModel / runs,
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
