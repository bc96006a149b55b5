import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertLedger,
  assertNothingLost,
  faultCycle,
  startFaultContext,
  type FaultContext,
} from './kafka-faults-kit';

/**
 * Kafka faults (docs/RELIABILITY.md §3), long variant for `npm run test:chaos`: many cycles of the
 * broker stopped or killed mid-run (alternating; outages of 1 to 6 s from a seeded generator),
 * several runs in flight each time, one Parley server throughout. `PARLEY_FAULTS_CYCLES` (default 8),
 * `PARLEY_FAULTS_RUNS` (runs in flight per cycle, default 8) and `PARLEY_FAULTS_SEED` change it.
 */
const CYCLES = Number(process.env.PARLEY_FAULTS_CYCLES ?? 8);
const RUNS = Number(process.env.PARLEY_FAULTS_RUNS ?? 8);
const SEED = Number(process.env.PARLEY_FAULTS_SEED ?? 8);

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe(`Kafka faults, ${CYCLES} cycles of ${RUNS} runs in flight (seed ${SEED})`, () => {
  let ctx: FaultContext;
  let dispose: (() => Promise<void>) | undefined;
  const random = seeded(SEED);

  before(async () => {
    ({ ctx, dispose } = await startFaultContext());
  });
  after(async () => {
    await dispose?.();
  });

  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const fault = cycle % 2 === 1 ? 'stop' : 'kill';
    it(`cycle ${cycle}: broker ${fault === 'stop' ? 'stopped (SIGTERM)' : 'killed (SIGKILL)'} mid-run, then restarted`, async () => {
      const downMs = 1000 + Math.round(random() * 5000);
      const f = await faultCycle(ctx, fault, { autoRuns: RUNS, downMs });
      process.stderr.write(
        `[kafka-faults chaos] cycle ${cycle} ${JSON.stringify({ ...f, downMs, refusals: f.refusals.length })}\n`,
      );
    });
  }

  it('lost no acknowledged event, forked no run, made each refund once', async () => {
    const { acknowledged, lost, audit } = await assertNothingLost(ctx);
    const { refunds } = await assertLedger(ctx);
    const figures = ctx.figures;
    const max = (pick: (f: (typeof figures)[number]) => number) => Math.max(...figures.map(pick));
    const refusals = figures.flatMap((f) => f.refusals);
    const summary = {
      cycles: figures.length,
      kills: figures.filter((f) => f.fault === 'kill').length,
      stops: figures.filter((f) => f.fault === 'stop').length,
      runs: ctx.runs.size,
      runsCaughtInFlight: figures.reduce((n, f) => n + f.runsInFlight, 0),
      acknowledged,
      lost,
      topicRecords: audit.records,
      duplicates: audit.duplicates,
      conflicts: audit.conflicts,
      refunds,
      refused: refusals.length,
      refusedCodes: [...new Set(refusals.map((r) => `${r.status} ${r.code}`))],
      maxRefusalMs: Math.max(...refusals.map((r) => r.ms)),
      maxDetectMs: max((f) => f.detectMs),
      maxRecoverMs: max((f) => f.recoverMs),
      maxFirstAcceptedMs: max((f) => f.firstAcceptedMs),
      maxRunsSettledMs: max((f) => f.runsSettledMs),
    };
    process.stderr.write(`[kafka-faults chaos] ${JSON.stringify(summary)}\n`);
    assert.equal(lost, 0);
    assert.ok(summary.runsCaughtInFlight > 0, 'no fault caught a run in flight: the test proved nothing');
  });
});
