import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import { assertChaosReport, runRefundChaos } from './refund-chaos';

/**
 * The fast variant of the crash test (docs/RELIABILITY.md §1), in `npm test`: 60 seeded refund-desk
 * runs, the server SIGKILLed at every named crash point and from outside, restarted each time.
 * `npm run test:chaos` runs the same scenario with 1,000 runs.
 */
describe('crash at every step boundary (fast: 60 runs)', () => {
  it('every run completes; one refund per approved run, none for rejected ones; nothing lost or doubled', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? 8001);
    const report = await runRefundChaos({
      runs: 60,
      seed,
      kills: 20,
      timeoutMs: 5 * 60_000,
      log: (line) => console.log(`[chaos] ${line}`),
    });
    assertChaosReport(report);
  });

  it('chaos settings are validated: a bad one stops the server with one line naming it', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { PARLEY_CHAOS_CRASH_POINTS: 'before-tool,after-lunch' },
        /PARLEY_CHAOS_CRASH_POINTS: "after-lunch" is not a crash point/,
      ],
      [
        { PARLEY_CHAOS_CRASH_POINTS: 'all', PARLEY_CHAOS_CRASH_PROBABILITY: '1.5' },
        /PARLEY_CHAOS_CRASH_PROBABILITY: must be a number above 0 and at most 1, not "1.5"/,
      ],
      [{ PARLEY_CHAOS_SEED: '7' }, /PARLEY_CHAOS_SEED: has no effect without PARLEY_CHAOS_CRASH_POINTS/],
    ];
    for (const [env, expected] of cases) {
      await assert.rejects(ParleyProcess.start({ env }), (error: Error) => {
        assert.match(error.message, /exited with code 1 before it was ready/);
        assert.match(error.message, new RegExp(`parley: cannot start: ${expected.source}`));
        return true;
      });
    }
  });
});
