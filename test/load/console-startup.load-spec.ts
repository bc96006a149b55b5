import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import { launchBrowser, prepareConsole, signIn } from '../e2e/console/console-harness';
import { seedRuns } from './console-scale';
import { STARTUP_PROBE, consoleStartup } from './console-startup';
import { envNumber, load1, log, report } from './load-kit';

/**
 * The console's start: a page load of the runs list (`/console/#/runs`, signed in, cache warm) paints
 * its first row within 300 ms (median of LOAD_STARTUP_LOADS), with LOAD_STARTUP_RUNS runs seeded
 * (default 2,000: the start does not grow with the runs, the list is paged on the server). The
 * figures say where the time went: document, bundle, /api/me, the first /api/runs, first render.
 */
describe('load: the console start-up', () => {
  it('the runs list paints its first row within 300 ms of a page load', async () => {
    prepareConsole();
    const runs = envNumber('LOAD_STARTUP_RUNS', 2_000);
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-console-startup-'));
    const browser = await launchBrowser();
    let server: ParleyProcess | undefined;
    try {
      if (runs > 0) await seedRuns(dataDir, runs);
      server = await ParleyProcess.start({ dataDir });
      const { context, page } = await signIn(browser, server, 'alice');
      await context.addInitScript({ content: STARTUP_PROBE });
      const before = load1();
      const figures = await consoleStartup(page, server.url, envNumber('LOAD_STARTUP_LOADS', 10));
      await context.close();
      report('console-startup', { runs, load1Before: before, load1After: load1(), ...figures });
      log(`first row painted after ${figures.firstRowMs.p50} ms (median): ${JSON.stringify(figures.median)}`);
      assert.ok(
        figures.firstRowMs.p50 <= 300,
        `runs list, page load: first row painted after ${figures.firstRowMs.p50} ms (median), target <= 300 ms`,
      );
    } finally {
      await browser.close();
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
