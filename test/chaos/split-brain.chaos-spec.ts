import { after, before, describe, it } from 'node:test';
import { PAUSE_POINTS, SplitBrainCluster, type TrialReport } from '../e2e/cluster/split-brain-kit';

/**
 * Split brain, the long run: SPLIT_BRAIN_TRIALS (default 100) trials, each pausing the owner of a
 * refund run at a random point (PAUSE_POINTS) for a random time longer than the session timeout
 * (7-12 s). After each: one version of each seq on the topic, both instances and a fresh one agree
 * byte for byte, one refund in the shared ledger. About 20 s a trial.
 */
const TRIALS = Number(process.env.SPLIT_BRAIN_TRIALS ?? 100);

describe(`cluster: ${TRIALS} split-brain trials, the log never forks`, () => {
  const cluster = new SplitBrainCluster();
  const reports: TrialReport[] = [];
  before(() => cluster.start());
  after(async () => {
    const byPoint: Record<string, number> = {};
    for (const r of reports) byPoint[r.point] = (byPoint[r.point] ?? 0) + 1;
    console.log(
      `[split-brain chaos] ${reports.length} trials passed ${JSON.stringify(byPoint)}; the paused owner was fenced by the broker in ${reports.filter((r) => r.fenced).length}`,
    );
    await cluster.close();
  });

  it(`${TRIALS} trials at random points`, { timeout: TRIALS * 120_000 }, async () => {
    for (let i = 0; i < TRIALS; i++) {
      const point = PAUSE_POINTS[Math.floor(Math.random() * PAUSE_POINTS.length)];
      const pauseMs = 7000 + Math.floor(Math.random() * 5000);
      reports.push(await cluster.trial(point, pauseMs));
    }
  });
});
