import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { ParleyProcess, waitFor } from '@parley/testing';
import { startRun } from '../patterns/helpers';
import { docScreenshot, launchBrowser, prepareConsole, signIn } from './console-harness';

/** The runs list paged by the server, in a real Chromium against a real server. */
describe('the console runs list (Chromium, playwright-core)', () => {
  let server: ParleyProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    prepareConsole();
    server = await ParleyProcess.start();
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.dispose();
  });

  it('pages 50 at a time with the total, shows title and waiting-on, searches, filters and stays live', async () => {
    const carol = server.client('carol');
    const ids: string[] = [];
    for (let i = 0; i < 52; i++)
      ids.push(
        await startRun(carol, 'refund-desk', `Please refund $${200 + i} for order #L${i}\nsecond line`),
      );
    await waitFor('52 runs listed', async () =>
      (await carol.get('/api/runs?limit=1')).body.total === 52 ? true : undefined,
    );
    const { context, page } = await signIn(browser, server, 'carol');
    contexts.push(context);
    await page.goto(`${server.url}/console/#/runs`);
    const pager = page.getByRole('navigation', { name: 'Pages of runs' });
    await pager.getByText('1–50 of 52').waitFor();
    const rows = page.locator('table.runs tbody tr');
    assert.equal(await rows.count(), 50);
    await page.getByRole('link', { name: /Please refund \$251 for order #L51/ }).waitFor();
    await page
      .locator('table.runs tbody tr', { hasText: 'order #L51' })
      .getByText(/approval \(/)
      .waitFor();
    await docScreenshot(page, 'console-runs');

    await pager.getByRole('button', { name: 'Older' }).click();
    await pager.getByText('51–52 of 52').waitFor();
    assert.equal(await rows.count(), 2);
    await page.getByRole('link', { name: /order #L0$|order #L0 / }).waitFor();
    assert.equal(await pager.getByRole('button', { name: 'Older' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Newer' }).click();
    await pager.getByText('1–50 of 52').waitFor();

    await page.getByLabel('Search').fill('#L17');
    await pager.getByText('1–1 of 1').waitFor();
    await page.getByRole('link', { name: /order #L17/ }).waitFor();
    await page.getByLabel('Search').fill('');
    await pager.getByText('1–50 of 52').waitFor();

    await page.getByLabel('Status').selectOption('completed');
    await page.getByText('No run matches these filters.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await pager.getByText('1–50 of 52').waitFor();

    await startRun(carol, 'refund-desk', 'Please refund $999 for order #LIVE');
    await pager.getByText('1–50 of 53').waitFor();
    await page.getByRole('link', { name: /order #LIVE/ }).waitFor();
  });
});
