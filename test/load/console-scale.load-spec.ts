import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consoleScale } from './console-scale';
import { envNumber, report } from './load-kit';

/**
 * The console at scale: 100,000 runs, 10,000 of them waiting on an open request (LOAD_CONSOLE_RUNS to
 * change it; LOAD_CONSOLE_LOADS page loads measured): the inbox and the runs list paint their first row
 * within 300 ms (median), and the inbox draws a capped list, not 10,000 rows.
 */
describe('load: the console at scale', () => {
  it('the inbox and the runs list paint their first row within 300 ms with 100,000 runs and 10,000 open requests', async () => {
    const runs = envNumber('LOAD_CONSOLE_RUNS', 100_000);
    const figures = await consoleScale({ runs, loads: envNumber('LOAD_CONSOLE_LOADS', 5) });
    report('console-scale', { ...figures });
    assert.equal(figures.openRequests, runs / 10);
    assert.ok(figures.inboxRows <= 200, `the inbox drew ${figures.inboxRows} rows`);
    assert.match(figures.inboxMore, new RegExp(`^${figures.openRequests - figures.inboxRows} more`));
    for (const [what, s] of [
      ['inbox, route change', figures.inboxRouteMs],
      ['runs list, route change', figures.runsRouteMs],
      ['inbox, page load', figures.inboxLoadMs],
      ['runs list, page load', figures.runsLoadMs],
    ] as const)
      assert.ok(s.p50 <= 300, `${what}: first row painted after ${s.p50} ms (median), target <= 300 ms`);
  });
});
