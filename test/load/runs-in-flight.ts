/**
 * N runs in flight at once against one real server process (SQLite log, the in-process offline
 * model over HTTP): all started at the same moment across four workflows, their human points
 * answered by four different humans as they open. Every run must complete as planned: its stored
 * events (seqs 1..n, hash chain, the decisions by the right people) and the refunds ledger (one
 * refund per approved or small refund, none for a rejected one).
 */
import assert from 'node:assert/strict';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, procStats } from '@parley/testing';
import { allEnded, checkRun, Humans, planRun, startRun, type PlannedRun } from './run-mix';
import { load1, log, mb, pool, report, round, summarize } from './load-kit';

export interface RunsInFlightOptions {
  runs: number;
  /** Name of the figures (test-results/load/<name>.json). */
  name: string;
  timeoutMs: number;
}

export async function runsInFlight({ runs: n, name, timeoutMs }: RunsInFlightOptions): Promise<void> {
  const server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '0' } });
  const humans = new Humans(server);
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(procStats(server.child.pid).rssBytes), 250);
  try {
    await humans.connect();
    const runs: PlannedRun[] = Array.from({ length: n }, (_, i) => planRun(i));
    const loadBefore = load1();
    const cpu0 = procStats(server.child.pid).cpuMs;
    const rss0 = procStats(server.child.pid).rssBytes;
    log(`${name}: starting ${n} runs at once (server RSS ${mb(rss0)} MB, load ${loadBefore})`);
    const t0 = Date.now();
    const startErrors: string[] = [];
    await Promise.all(
      runs.map(async (run) => {
        try {
          await startRun(server, run);
          humans.track(run);
        } catch (error) {
          startErrors.push(String(error));
        }
      }),
    );
    const startedMs = Date.now() - t0;
    // how many were in flight together: not ended when the last start was answered
    const listed = (await server.client('victor').get('/api/runs?limit=500')).body.runs as {
      status: string;
    }[];
    const inFlightAtLastStart = listed.filter(
      (r) => !['completed', 'failed', 'cancelled'].includes(r.status),
    ).length;
    log(`${name}: ${n - startErrors.length} started in ${startedMs} ms; waiting for them to end`);
    assert.deepEqual(startErrors, [], 'every run starts');
    await allEnded(server, runs, timeoutMs);
    await humans.settle();
    const wallMs = Date.now() - t0;
    const cpuMs = procStats(server.child.pid).cpuMs - cpu0;
    const loadAfter = load1();
    clearInterval(sampler);

    // every run, from its stored log and the ledger
    const api = server.client('victor');
    const refunds = (await api.get('/api/refunds')).body.refunds as { runId: string; amount: number }[];
    const refundsByRun = new Map<string, { amount: number }[]>();
    for (const r of refunds) refundsByRun.set(r.runId, [...(refundsByRun.get(r.runId) ?? []), r]);
    const toCompletion: number[] = [];
    let events = 0;
    await pool(runs, 16, async (run) => {
      const stored = (await api.get(`/api/runs/${run.runId}/events`)).body.events as EventEnvelope[];
      events += stored.length;
      const { problems, decisionToCompletionMs } = checkRun(run, stored, refundsByRun.get(run.runId!) ?? []);
      run.problems.push(...problems);
      if (decisionToCompletionMs !== undefined) toCompletion.push(decisionToCompletionMs);
    });
    const wrong = runs.filter((r) => r.problems.length);
    const starts = summarize(runs.map((r) => r.startMs!));
    const done = summarize(toCompletion);
    const byKind: Record<string, number> = {};
    for (const r of runs) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    const approvedRefunds = runs.filter(
      (r) => r.kind === 'refund-approve' || r.kind === 'refund-small',
    ).length;
    const figures = {
      runs: n,
      byKind,
      events,
      decisions: humans.decisions,
      refunds: refunds.length,
      refundsExpected: approvedRefunds,
      wrongRuns: wrong.length,
      errors: humans.errors.length + startErrors.length,
      wallS: round(wallMs / 1000, 2),
      runsPerS: round(n / (wallMs / 1000)),
      allStartedMs: startedMs,
      inFlightAtLastStart,
      startMs: { p50: starts.p50, p99: starts.p99, max: starts.max },
      decisionToCompletionMs: { n: done.n, p50: done.p50, p99: done.p99, max: done.max },
      serverCpuS: round(cpuMs / 1000),
      serverCpuShare: round(cpuMs / wallMs, 2),
      serverRssMb: { before: mb(rss0), max: mb(Math.max(...rss)), after: mb(rss.at(-1) ?? NaN) },
      load1m: `${loadBefore}->${loadAfter}`,
    };
    report(name, figures);
    assert.deepEqual(humans.errors, [], 'every decision is accepted');
    assert.deepEqual(
      wrong.slice(0, 10).map((r) => `#${r.i} ${r.kind} ${r.runId}: ${r.problems.join('; ')}`),
      [],
      `${wrong.length} runs are not as planned`,
    );
    assert.equal(
      refunds.length,
      approvedRefunds,
      'one refund per approved (or small) refund, none for a rejected one',
    );
    assert.equal(
      humans.decisions,
      runs.reduce((s, r) => s + r.deciders.length, 0),
      'every human point answered once',
    );
    assert.equal(toCompletion.length, runs.filter((r) => r.deciders.length).length);
  } catch (error) {
    log(`${name} failed; server output (tail):\n${server.output.join('').split('\n').slice(-40).join('\n')}`);
    throw error;
  } finally {
    clearInterval(sampler);
    humans.close();
    await server.dispose();
  }
}
