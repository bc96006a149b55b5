import { describe, it } from 'node:test';
import { envNumber } from './load-kit';
import { runsInFlight } from './runs-in-flight';

/** 1,000 runs in flight at once (LOAD_RUNS to change it): every one completes as planned. */
describe('load: runs in flight', () => {
  it('1,000 concurrent runs across four workflows, human points answered by four humans, all complete correctly', async () => {
    await runsInFlight({ runs: envNumber('LOAD_RUNS', 1000), name: 'runs-in-flight', timeoutMs: 600_000 });
  });
});
