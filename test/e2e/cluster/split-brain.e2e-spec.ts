import { after, before, describe, it } from 'node:test';
import { PAUSE_POINTS, SplitBrainCluster } from './split-brain-kit';

/**
 * Split brain, the fast variant (the chaos suite runs 100 trials at random points): an owner
 * stopped with SIGSTOP (a GC pause, a frozen VM) for longer than the session timeout while its run
 * is at a model call, between `tool-call.started` and the refund, or between the refund and its
 * result; the other instance takes the run over and finishes it; the owner is continued. The
 * broker fences the paused owner: the topic holds one version of each seq, every instance and a
 * fresh one agree byte for byte, and the shared ledger holds one refund.
 */
describe('cluster: a paused owner is fenced, the log never forks', () => {
  const cluster = new SplitBrainCluster();
  before(() => cluster.start());
  after(() => cluster.close());

  for (const point of PAUSE_POINTS) {
    it(`owner paused at ${point}: one version of each seq, everyone agrees, one refund`, async () => {
      const report = await cluster.trial(point);
      console.log(`[split-brain] ${JSON.stringify(report)}`);
    });
  }
});
