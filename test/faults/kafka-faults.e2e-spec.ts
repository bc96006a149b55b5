import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  assertLedger,
  assertNothingLost,
  faultCycle,
  health,
  startFaultContext,
  type FaultContext,
} from './kafka-faults-kit';

/**
 * Kafka faults (docs/RELIABILITY.md §3), fast variant: a broker of this test's own is stopped
 * (SIGTERM) and then killed (SIGKILL) mid-run, and restarted on the same data each time. While it
 * is down the server reports itself degraded and refuses new work with 503 EVENT_LOG.UNAVAILABLE at
 * once; afterwards every acknowledged event is in the topic (read from the broker, chains checked),
 * every run in flight has finished, the paused one took its decision, and each refund was made once.
 */
describe('Kafka faults: the broker stopped and killed mid-run', () => {
  let ctx: FaultContext;
  let dispose: (() => Promise<void>) | undefined;

  before(async () => {
    ({ ctx, dispose } = await startFaultContext());
  });
  after(async () => {
    if (ctx) {
      const lines = ctx.server.output.join('').split('\n');
      const outages = lines.filter((l) => /event log is (UNREACHABLE|reachable again)/.test(l)).length;
      process.stderr.write(
        `[kafka-faults] server log: ${outages} reachability transitions, ${lines.length} lines\n`,
      );
      // PARLEY_FAULTS_LOG=<file> keeps the server's whole log, to read the timeline of a fault.
      if (process.env.PARLEY_FAULTS_LOG) writeFileSync(process.env.PARLEY_FAULTS_LOG, lines.join('\n'));
    }
    await dispose?.();
  });

  it('starts healthy: /health 200 with the event log reachable', async () => {
    const h = await health(ctx.server);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    assert.equal(h.body.eventLog, 'kafka');
    assert.equal(h.body.checks.eventLog.reachable, true);
  });

  it('broker stopped (SIGTERM) mid-run: degraded, refuses new work at once, carries on after the restart', async () => {
    const f = await faultCycle(ctx, 'stop');
    process.stderr.write(`[kafka-faults] ${JSON.stringify(f)}\n`);
    assert.ok(f.runsInFlight > 0, 'the fault caught no run in flight: the test proved nothing');
  });

  it('broker killed (SIGKILL) mid-run: degraded, refuses new work at once, carries on after the restart', async () => {
    const f = await faultCycle(ctx, 'kill');
    process.stderr.write(`[kafka-faults] ${JSON.stringify(f)}\n`);
    assert.ok(f.runsInFlight > 0, 'the fault caught no run in flight: the test proved nothing');
  });

  it('lost no acknowledged event, forked no run, and made each refund once', async () => {
    const { acknowledged, lost, audit } = await assertNothingLost(ctx);
    const { refunds } = await assertLedger(ctx);
    const h = await health(ctx.server);
    process.stderr.write(
      `[kafka-faults] ${JSON.stringify({ runs: ctx.runs.size, acknowledged, lost, records: audit.records, duplicates: audit.duplicates, conflicts: audit.conflicts, refunds, eventLog: h.body.checks.eventLog })}\n`,
    );
    assert.ok(acknowledged > 0);
    assert.equal(lost, 0);
  });

  it('every run that waited or ended across the faults is anchored in the anchors topic', async () => {
    // heads signed while the broker was down were kept and written once it was back
    const answer = await ctx.server.client('carol').get('/api/anchors/check');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.anchors.kind, 'kafka');
    assert.equal(
      answer.body.ok,
      true,
      JSON.stringify(answer.body.runs.filter((r: { ok: boolean }) => !r.ok)),
    );
    assert.ok(answer.body.checked > 0, `${answer.body.checked} runs checked`);
    assert.equal((await health(ctx.server)).body.checks.signing.pending, 0);
  });
});
