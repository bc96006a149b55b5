import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRASH_POINTS, seededRandom, type CrashPoint } from '@parley/engine';
import { HttpClient, ParleyProcess, TEST_USERS, allOpenRequests, type TestUser } from '@parley/testing';

/**
 * Crash at every step boundary (docs/RELIABILITY.md §1), one scenario for the fast e2e variant and
 * the 1,000-run chaos suite: seeded `refund-desk` runs, driven over real HTTP against a real server
 * process that is SIGKILLed again and again (by itself, at a named crash point of the engine, or
 * by this test at a random time) and restarted on the same data folder each time. Afterwards every
 * run must have completed, each run's log must verify and hold each call once, and the refunds
 * ledger must hold exactly one refund per approved (or auto-refunded) run and none for rejected ones.
 */
export interface ChaosOptions {
  /** How many refund-desk runs. */
  runs: number;
  /** Decides every run's amount, requester, approver, decision, and every life's crash point and timing. */
  seed: number;
  /** Roughly how many kills to aim for (the crash chances are set from it). */
  kills: number;
  eventLog?: 'sqlite' | 'kafka';
  /** More server settings (Kafka: brokers, topic prefix, a fixed instance id). */
  env?: Record<string, string>;
  /** Runs started but not finished at any time (default 8). */
  maxInFlight?: number;
  /** Every fourth life is killed from outside, this long at most after it listens, ms (default 1,000). */
  maxKillDelayMs?: number;
  /** The whole scenario must end before this (default 10 minutes). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export type Kind = 'auto' | 'approval' | 'escalation';

export interface PlannedRun {
  index: number;
  kind: Kind;
  amount: number;
  orderId: string;
  requester: TestUser;
  approver: TestUser;
  decision: 'approve' | 'reject' | undefined;
  refunded: boolean;
}

export interface ChaosReport {
  seed: number;
  runs: number;
  completed: number;
  lives: number;
  kills: Record<CrashPoint | 'external', number>;
  totalKills: number;
  startupKills: number;
  events: number;
  refunds: number;
  expectedRefunds: number;
  reconciled: number;
  approved: number;
  rejected: number;
  lost: number;
  duplicated: number;
  wallMs: number;
}

/** The seeded plan of every run: what is asked, who asks, who decides and what. */
export function planRuns(seed: number, runs: number): PlannedRun[] {
  const random = seededRandom(seed);
  const between = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
  return Array.from({ length: runs }, (_, index) => {
    const r = random();
    const kind: Kind = r < 0.4 ? 'auto' : r < 0.85 ? 'approval' : 'escalation';
    const amount =
      kind === 'auto' ? between(5, 100) : kind === 'approval' ? between(101, 500) : between(501, 2000);
    const requester: TestUser = random() < 0.5 ? 'carol' : 'alice';
    // Four-eyes: the approver is never the requester.
    const approver: TestUser = requester === 'alice' ? 'bob' : random() < 0.5 ? 'alice' : 'bob';
    const decision = kind === 'auto' ? undefined : random() < 0.5 ? 'approve' : 'reject';
    return {
      index,
      kind,
      amount,
      orderId: `C${seed % 10_000}-${index}`,
      requester,
      approver,
      decision,
      refunded: kind === 'auto' || decision === 'approve',
    };
  });
}

/**
 * How often each point is reached per run, roughly, discounted for the runs in flight together (a
 * crash cuts several short): the crash chance of a life is set from it (measured, not exact).
 */
const HITS_PER_RUN: Record<CrashPoint, number> = {
  // reached by commands (a start, a decision) and by an intent appended on its own; most intents now
  // go out with the result before them (one append per step), so this point is the rarest
  'after-append': 0.25,
  'before-model': 0.8,
  'after-model': 0.8,
  'after-model-recorded': 0.8,
  'before-tool': 0.3,
  'after-tool': 0.3,
  'after-tool-recorded': 0.3,
};

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const CRASH_LOG = 'chaos-crashes.log';

export async function runRefundChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const began = Date.now();
  const deadline = began + (options.timeoutMs ?? 10 * 60_000);
  const maxInFlight = options.maxInFlight ?? 8;
  const maxKillDelayMs = options.maxKillDelayMs ?? 1000;
  const plans = planRuns(options.seed, options.runs);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  const schedule = seededRandom(options.seed ^ 0x5eed);
  const runIds = new Map<number, string>();
  const indexOf = new Map<string, number>();
  const done = new Set<number>();
  const kills = Object.fromEntries([...CRASH_POINTS, 'external'].map((k) => [k, 0])) as ChaosReport['kills'];
  let startupKills = 0;
  let lives = 0;
  const runsPerLife = Math.max(3, options.runs / Math.max(1, options.kills));
  // Each life arms one crash point, in a seeded order, first the points that have not crashed yet;
  // every fourth life arms none and is killed from outside at a random time.
  const order = [...CRASH_POINTS].sort(() => schedule() - 0.5);
  const crashLines = (): string[] =>
    existsSync(join(dataDir, CRASH_LOG))
      ? readFileSync(join(dataDir, CRASH_LOG), 'utf8').trim().split('\n').filter(Boolean)
      : [];
  const crashedAt = (): Set<string> =>
    new Set(crashLines().map((line) => /SIGKILL at (\S+)/.exec(line)?.[1] ?? ''));
  // The last runs wait until every point has crashed once, so that there is work left to crash in.
  const holdBack = Math.floor(options.runs * 0.2);
  let releaseHeld = false;
  let current: ParleyProcess | undefined;
  let armed = false;
  const client = (server: ParleyProcess, user: TestUser): HttpClient =>
    new HttpClient(server.url, TEST_USERS[user].token);

  try {
    while (done.size < options.runs) {
      if (Date.now() > deadline)
        throw new Error(
          `seed ${options.seed}: ${done.size}/${options.runs} runs finished before the time limit (${lives} lives)`,
        );
      lives++;
      const crashed = crashedAt();
      releaseHeld ||= CRASH_POINTS.every((p) => crashed.has(p));
      const point = order.find((p) => !crashed.has(p)) ?? order[(lives - 1) % order.length];
      // A point that has not crashed yet gets a higher chance; once the held runs are all the work
      // left and it still has not, the highest.
      const boost = crashed.has(point) ? 1 : releaseHeld ? 10 : 2;
      const probability = Math.min(0.5, boost / (HITS_PER_RUN[point] * runsPerLife));
      const chaosSeed = Math.floor(schedule() * 2 ** 32);
      // Every fourth life is killed from outside, once the points have all crashed; before that, only
      // until the first outside kill (so that the runs cannot run out while a point is still untried).
      const external = lives % 4 === 0 && (kills.external === 0 || CRASH_POINTS.every((p) => crashed.has(p)));
      armed = !external;
      // An armed life is killed from outside too if its point is not reached for a long while.
      const killDelay = Math.floor(schedule() * maxKillDelayMs) + (external ? 20 : 5 * maxKillDelayMs);
      const crashesBefore = crashLines().length;
      const env = external
        ? { ...options.env }
        : {
            ...options.env,
            PARLEY_CHAOS_CRASH_POINTS: point,
            PARLEY_CHAOS_CRASH_PROBABILITY: String(probability),
            PARLEY_CHAOS_SEED: String(chaosSeed),
          };
      let server: ParleyProcess;
      try {
        server = await ParleyProcess.start({ dataDir, eventLog: options.eventLog ?? 'sqlite', env });
        current = server;
      } catch (error) {
        // Killed at a crash point while recovering, before it listened: a life all the same.
        if (crashLines().length > crashesBefore) {
          startupKills++;
          continue;
        }
        throw error;
      }
      const closed = new Promise<void>((resolve) => server.child.once('close', () => resolve()));
      let externalKill = false;
      const timer = setTimeout(() => {
        externalKill = true;
        server.child.kill('SIGKILL');
      }, killDelay);
      let alive = true;
      void closed.then(() => (alive = false));
      try {
        await drive(server, () => alive);
      } catch (error) {
        const tail = server.output.join('').slice(-4000);
        throw new Error(
          `seed ${options.seed}, life ${lives} (${external ? 'external' : point}): ${String(error)}\n--- server output ---\n${tail}`,
        );
      } finally {
        clearTimeout(timer);
      }
      if (alive) {
        // Every run finished in this life: stop it without a kill.
        await server.stop();
        await closed;
      } else {
        await closed;
        if (crashLines().length === crashesBefore) {
          assert.ok(
            externalKill,
            `seed ${options.seed}: the server died on its own:\n${server.output.join('').slice(-3000)}`,
          );
          kills.external++;
        }
      }
    }
    for (const line of crashLines()) {
      const m = /SIGKILL at (\S+)/.exec(line);
      if (m) kills[m[1] as CrashPoint]++;
    }
    log(`seed ${options.seed}: ${options.runs} runs finished over ${lives} server lives; checking`);
    const report = await verify();
    return report;
  } finally {
    if (current && current.child.exitCode === null && current.child.signalCode === null) await current.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }

  /** Start, decide and watch runs until the server dies or every run has finished. */
  async function drive(server: ParleyProcess, alive: () => boolean): Promise<void> {
    const admin = client(server, 'admin');
    while (alive() && done.size < options.runs) {
      try {
        await startRuns(server);
        await decideRequests(server, admin);
        const listed = await admin.get<{ runs: Array<{ runId: string; status: string }> }>(
          '/api/runs?workflow=refund-desk&limit=500',
        );
        assert.equal(listed.status, 200);
        for (const run of listed.body.runs) {
          const index = indexOf.get(run.runId);
          if (index !== undefined && TERMINAL.has(run.status)) done.add(index);
        }
        // Nothing left to crash in but the held runs: let them go (in a life that may crash).
        if (armed && done.size >= options.runs - holdBack) releaseHeld = true;
      } catch (error) {
        if (alive() && !isConnectionError(error)) throw error;
        // The server died under us: the next life carries on.
        await new Promise((r) => setTimeout(r, 20));
      }
      if (Date.now() > deadline) return;
    }
  }

  async function startRuns(server: ParleyProcess): Promise<void> {
    const inFlight = runIds.size - done.size;
    const startable = releaseHeld ? plans : plans.slice(0, plans.length - holdBack);
    const next = startable.filter((p) => !runIds.has(p.index)).slice(0, Math.max(0, maxInFlight - inFlight));
    await Promise.all(
      next.map(async (plan) => {
        // The same idempotency key after a crash returns the same run (or starts it if it never was).
        const answer = await client(server, plan.requester).post('/api/runs', {
          workflow: 'refund-desk',
          input: `Please refund $${plan.amount} for order #${plan.orderId}, it arrived damaged`,
          idempotencyKey: `chaos-${options.seed}-${plan.index}`,
        });
        assert.ok(
          answer.status === 201 || answer.status === 200,
          `POST /api/runs: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
        runIds.set(plan.index, answer.body.runId);
        indexOf.set(answer.body.runId, plan.index);
      }),
    );
  }

  async function decideRequests(server: ParleyProcess, admin: HttpClient): Promise<void> {
    const open = await allOpenRequests(admin);
    await Promise.all(
      open.map(async (request) => {
        const index = indexOf.get(request.runId);
        if (index === undefined) return; // a run whose start answer was lost: known after its retry
        const plan = plans[index];
        assert.equal(request.kind, plan.kind, `run ${index} (${plan.amount} USD) asks for ${request.kind}`);
        const answer = await client(server, plan.approver).post(`/api/requests/${request.id}/decision`, {
          decision: plan.decision,
          comment: `chaos ${options.seed}: ${plan.decision}`,
        });
        // 409 REQUEST.CLOSED: decided before a crash, whose answer was lost.
        const ok =
          answer.status === 200 || (answer.status === 409 && answer.body?.error?.code === 'REQUEST.CLOSED');
        assert.ok(ok, `decision on run ${index}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }),
    );
  }

  /** A last, calm life: read everything back and check it. */
  async function verify(): Promise<ChaosReport> {
    const server = await ParleyProcess.start({
      dataDir,
      eventLog: options.eventLog ?? 'sqlite',
      env: options.env,
    });
    try {
      const admin = client(server, 'admin');
      const refunds = (
        await admin.get<{ refunds: Array<{ runId: string; amount: number; idempotencyKey: string }> }>(
          '/api/refunds',
        )
      ).body.refunds;
      const byRun = new Map<string, typeof refunds>();
      for (const row of refunds) byRun.set(row.runId, [...(byRun.get(row.runId) ?? []), row]);
      let events = 0;
      let reconciled = 0;
      let lost = 0;
      let duplicated = 0;
      let completed = 0;
      const problems: string[] = [];
      for (const plan of plans) {
        const runId = runIds.get(plan.index)!;
        const run = (await admin.get(`/api/runs/${runId}`)).body;
        if (run.status === 'completed') completed++;
        else problems.push(`run ${plan.index} (${runId}) is ${run.status}: ${JSON.stringify(run.failure)}`);
        const log = (await admin.get(`/api/runs/${runId}/events`)).body.events as Array<{
          eventId: string;
          seq: number;
          type: string;
          hash: string;
          data: { callId?: string; tool?: string; reconciled?: boolean; idempotencyKey?: string };
        }>;
        events += log.length;
        if (log.some((e, i) => e.seq !== i + 1))
          problems.push(`run ${plan.index}: seqs ${log.map((e) => e.seq).join(',')}`);
        if (new Set(log.map((e) => e.eventId)).size !== log.length) {
          duplicated++;
          problems.push(`run ${plan.index}: an event id twice`);
        }
        const verdict = (await admin.get(`/api/runs/${runId}/verify`)).body;
        if (!verdict.ok || verdict.events !== log.length || verdict.head !== log[log.length - 1]?.hash)
          problems.push(`run ${plan.index}: chain ${JSON.stringify(verdict)}`);
        // Each call is started once and answered once, whatever crashed in between.
        for (const type of [
          'model-call.started',
          'model-call.completed',
          'tool-call.requested',
          'tool-call.started',
          'tool-call.completed',
        ]) {
          const ids = log.filter((e) => e.type === type).map((e) => e.data.callId);
          if (new Set(ids).size !== ids.length) {
            duplicated++;
            problems.push(`run ${plan.index}: ${type} twice for one call (${ids.join(',')})`);
          }
        }
        reconciled += log.filter((e) => e.type === 'tool-call.completed' && e.data.reconciled).length;
        const refundCalls = log.filter(
          (e) => e.type === 'tool-call.requested' && e.data.tool === 'process_refund',
        );
        const rows = byRun.get(runId) ?? [];
        if (plan.refunded) {
          if (rows.length === 0) {
            lost++;
            problems.push(`run ${plan.index} (${plan.kind}, ${plan.decision ?? 'auto'}): no refund`);
          }
          if (rows.length > 1) {
            duplicated += rows.length - 1;
            problems.push(`run ${plan.index}: ${rows.length} refunds`);
          }
          if (
            rows.length === 1 &&
            (rows[0].amount !== plan.amount || rows[0].idempotencyKey !== refundCalls[0]?.data.idempotencyKey)
          )
            problems.push(`run ${plan.index}: refund ${JSON.stringify(rows[0])}, planned ${plan.amount}`);
        } else if (rows.length > 0) {
          duplicated += rows.length;
          problems.push(`run ${plan.index} (rejected): ${rows.length} refunds`);
        }
      }
      const report: ChaosReport = {
        seed: options.seed,
        runs: options.runs,
        completed,
        lives,
        kills,
        totalKills: Object.values(kills).reduce((a, b) => a + b, 0),
        startupKills,
        events,
        refunds: refunds.length,
        expectedRefunds: plans.filter((p) => p.refunded).length,
        reconciled,
        approved: plans.filter((p) => p.decision === 'approve').length,
        rejected: plans.filter((p) => p.decision === 'reject').length,
        lost,
        duplicated,
        wallMs: Date.now() - began,
      };
      log(`seed ${options.seed}: ${JSON.stringify(report)}`);
      assert.deepEqual(
        problems.slice(0, 20),
        [],
        `seed ${options.seed} (rerun with CHAOS_SEED=${options.seed}): ${problems.length} problems`,
      );
      return report;
    } finally {
      await server.stop();
    }
  }
}

/** The assertions every variant makes on the figures: all the work happened, and nothing was lost or doubled. */
export function assertChaosReport(report: ChaosReport): void {
  const again = `(rerun with CHAOS_SEED=${report.seed})`;
  assert.equal(report.completed, report.runs, `every run completed ${again}`);
  assert.equal(
    report.refunds,
    report.expectedRefunds,
    `one refund per approved or auto-refunded run ${again}`,
  );
  assert.equal(report.lost, 0, again);
  assert.equal(report.duplicated, 0, again);
  assert.ok(
    report.expectedRefunds > 0 && report.approved > 0 && report.rejected > 0,
    'refunds, approvals and rejections all happened',
  );
  assert.ok(report.kills.external > 0, 'the test killed the server at least once');
  assert.ok(report.reconciled > 0, 'a refund re-run after a crash was reconciled by its idempotency key');
  for (const point of CRASH_POINTS)
    assert.ok(
      report.kills[point] > 0,
      `the server crashed at least once at ${point}: ${JSON.stringify(report.kills)}`,
    );
}

function isConnectionError(error: unknown): boolean {
  const text = `${String(error)} ${String((error as { cause?: unknown })?.cause ?? '')}`;
  return /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|other side closed|UND_ERR/i.test(text);
}
