import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ParleyProcess, waitFor } from '@parley/testing';
import { events, getRun, startRun, waitForRequest, waitForStatus } from '../patterns/helpers';
import { docScreenshot, launchBrowser, prepareConsole, screenshot, signIn } from './console-harness';

/** The inbox of people who answer many requests, in a real Chromium against a real server. */
describe('the console inbox (Chromium, playwright-core)', () => {
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

  const approval = async (input: string): Promise<{ runId: string; requestId: string }> => {
    const runId = await startRun(server.client('carol'), 'refund-desk', input);
    const { request } = await waitForRequest(server.client('alice'), runId, (r) => r.kind === 'approval');
    return { runId, requestId: request.id };
  };
  const routeReview = async (input: string): Promise<string> => {
    const runId = await startRun(server.client('alice'), 'support-triage', input);
    await waitForRequest(
      server.client('alice'),
      runId,
      (r) => r.subject.type === 'route',
      'the route review',
    );
    return runId;
  };
  const option = (page: Page, requestId: string) =>
    page.locator(`[role="option"][data-request-id="${requestId}"]`);
  const options = (page: Page) => page.getByRole('listbox', { name: 'Open requests' }).getByRole('option');
  const requestStatus = async (id: string): Promise<{ status: string; outcome: string | null }> =>
    (await server.client('alice').get(`/api/requests/${id}`)).body;

  it('filters by kind, workflow, search and "claimed by me", and decides with the keyboard (j/k, c, h, a, r)', async () => {
    const first = await approval('Please refund $120 for order #A201, it arrived broken');
    const second = await approval('Please refund $140 for order #A202, it never arrived');
    const triage = await routeReview('I was charged twice on my invoice');

    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await option(page, first.requestId).waitFor();
    await option(page, second.requestId).waitFor();
    const all = await options(page).count();
    assert.ok(all >= 3, `the three requests are listed (${all})`);
    await page.getByText('Keyboard shortcuts').waitFor();

    // kind: only the approvals
    await page.getByLabel('Kind').selectOption('approval');
    await waitFor('only approvals listed', async () => (await options(page).count()) === 2);
    assert.equal(await page.getByTestId('inbox-count').textContent(), `2 of ${all} requests`);
    // workflow: only the triage run's requests, grouped under its run
    await page.getByLabel('Kind').selectOption('');
    await page.getByLabel('Workflow').selectOption('support-triage');
    await waitFor('only the triage run listed', async () => {
      const ids = await options(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-request-id')));
      return ids.length >= 1 && !ids.includes(first.requestId) && !ids.includes(second.requestId);
    });
    await page.getByRole('group', { name: new RegExp(`support-triage · ${triage.slice(0, 8)}`) }).waitFor();
    await page.getByLabel('Workflow').selectOption('');
    // search: the keyboard's "/" focuses it
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    await page.keyboard.type(second.runId.slice(0, 8));
    await waitFor('only the second refund listed', async () => (await options(page).count()) === 1);
    await option(page, second.requestId).waitFor();
    await page.getByLabel('Search').fill('');

    // the keyboard: j/k move the selection, the detail pane follows it
    await page.getByLabel('Kind').selectOption('approval');
    // the server filters: the list changes when its answer comes
    await waitFor('the two approvals listed again', async () => {
      const ids = await options(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-request-id')));
      return ids.length === 2 && ids.includes(first.requestId) && ids.includes(second.requestId);
    });
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const selectedId = async (): Promise<string | null> =>
      page.locator('[role="option"][aria-selected="true"]').getAttribute('data-request-id');
    const ordered = await options(page).evaluateAll((els) =>
      els.map((e) => e.getAttribute('data-request-id')),
    );
    // the selection stayed on its request through the filters: k at the top stays at the top
    for (const _ of ordered) await page.keyboard.press('k');
    await waitFor('the first selected', async () => (await selectedId()) === ordered[0]);
    await page.keyboard.press('j');
    await waitFor('the second selected', async () => (await selectedId()) === ordered[1]);
    await page.keyboard.press('k');
    await waitFor('the first selected again', async () => (await selectedId()) === ordered[0]);
    const detail = page.getByRole('region', { name: 'Request detail' });
    await detail.locator(`[data-request-id="${ordered[0]}"]`).waitFor();

    // c claims; "claimed by me" then lists only it
    await page.keyboard.press('c');
    await option(page, ordered[0]!).getByText('mine').waitFor();
    await page.getByLabel('Claimed by me').check();
    await waitFor('only the claimed one', async () => (await options(page).count()) === 1);
    await page.getByLabel('Claimed by me').uncheck();
    await waitFor('both approvals again', async () => (await options(page).count()) === 2);
    // h hands it back: nobody's again
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('h');
    await detail.getByText('Handed back: anyone entitled may claim it.').waitFor();
    await option(page, ordered[0]!).locator('.badge.claimed').waitFor({ state: 'detached' });
    await detail.getByRole('button', { name: 'Claim' }).waitFor();
    await screenshot(page, 'inbox-filtered');

    // a approves the selected request: it leaves, the next one is selected, r rejects it
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await detail.locator(`[data-request-id="${ordered[0]}"]`).waitFor();
    await page.keyboard.press('a');
    await option(page, ordered[0]!).waitFor({ state: 'detached' });
    await waitFor('the other approval selected', async () => (await selectedId()) === ordered[1]);
    await detail
      .locator(`[data-request-id="${ordered[1]}"]`)
      .getByRole('button', { name: 'Reject' })
      .waitFor();
    await page.keyboard.press('r');
    await option(page, ordered[1]!).waitFor({ state: 'detached' });
    assert.deepEqual(
      [await requestStatus(ordered[0]!), await requestStatus(ordered[1]!)].map((r) => [r.status, r.outcome]),
      [
        ['resolved', 'approve'],
        ['resolved', 'reject'],
      ],
    );
    const approvedRun = ordered[0] === first.requestId ? first.runId : second.runId;
    await waitForStatus(server.client('alice'), approvedRun, 'completed');
  });

  it('deadlines count down and turn the warning colour before they expire; "expiring soon" lists those', async () => {
    const refund = await approval('Please refund $150 for order #A205, it came late');
    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.clock.install();
    await page.getByRole('link', { name: 'Inbox' }).click();
    const row = option(page, refund.requestId);
    const countdown = row.locator('time').first();
    await countdown.waitFor();
    assert.equal(await countdown.getAttribute('class'), null, 'an hour ahead: no warning');
    await page.getByLabel('Expiring soon (< 15 min)').check();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Expiring soon (< 15 min)').uncheck();
    // 56 minutes later (the browser's clock): 4 minutes left of the approval's hour
    await page.clock.fastForward('56:00');
    await waitFor('the warning colour', async () => (await countdown.getAttribute('class')) === 'warning');
    assert.match((await countdown.textContent()) ?? '', /^[34]m \d+s$/);
    await page.getByLabel('Expiring soon (< 15 min)').check();
    await row.waitFor();
    await page.clock.fastForward('03:30');
    await waitFor('urgent under a minute', async () => (await countdown.getAttribute('class')) === 'urgent');
  });

  it('edits a refund through the form generated from the tool schema, with the diff against the proposal', async () => {
    const refund = await approval('Please refund $160 for order #A203, the parcel was empty');
    await approval('Please refund $180 for order #A204, wrong size');
    await routeReview('The app crashes when I open my invoices');

    const { context, page } = await signIn(browser, server, 'alice', { width: 1280, height: 860 });
    contexts.push(context);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await option(page, refund.requestId).click();
    const detail = page.getByRole('region', { name: 'Request detail' });
    const card = detail.locator(`[data-request-id="${refund.requestId}"]`);
    await card.waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('e');

    const form = card.getByRole('form', { name: 'Edit the proposal' });
    await form.getByText('The form follows the schema the server checks the edit against.').waitFor();
    // one control per argument of process_refund, described as the tool describes it
    const amount = form.getByLabel(/^amount/);
    assert.equal(await amount.getAttribute('type'), 'number');
    assert.equal(await amount.inputValue(), '160');
    await form.getByLabel(/^order_id/).waitFor();
    await form.getByText('amount in USD').waitFor();
    const diff = form.getByRole('region', { name: 'Changes against the proposal' });
    await diff.getByText('No change yet.').waitFor();

    await amount.fill('-5');
    await form.getByRole('button', { name: 'Submit edit' }).click();
    await form.getByText('args.amount must be more than 0.').waitFor();
    await amount.fill('60');
    await form.getByLabel(/^reason/).fill('Partial refund: the customer keeps the parcel');
    const row = diff.getByRole('row', { name: /args\.amount/ });
    await row.getByText('160').waitFor();
    await row.getByText('60', { exact: true }).waitFor();
    await diff.getByRole('row', { name: /args\.reason/ }).waitFor();
    assert.equal(await diff.getByRole('row').count(), 3, 'a header and two changed fields');
    assert.equal(await form.getByRole('alert').count(), 0, 'the problem went with the fix');
    await docScreenshot(page, 'console-inbox');
    await screenshot(page, 'inbox-edit');

    await form.getByRole('button', { name: 'Submit edit' }).click();
    await option(page, refund.requestId).waitFor({ state: 'detached' });
    const view = await requestStatus(refund.requestId);
    assert.deepEqual([view.status, view.outcome], ['resolved', 'edit']);
    await waitForStatus(server.client('alice'), refund.runId, 'completed');
    const run = await getRun(server.client('alice'), refund.runId);
    const call = run.toolCalls.find((t) => t.tool === 'process_refund');
    assert.equal(call?.status, 'completed');
    assert.equal((call?.result as { amount: number }).amount, 60, 'the refund ran with the edited amount');
  });
  it('edits a magentic plan step by step: change a task, add, move and remove steps, with the diff', async () => {
    const runId = await startRun(
      server.client('alice'),
      'incident-response',
      'Checkout returns 502 since 14:05',
    );
    const { request } = await waitForRequest(
      server.client('alice'),
      runId,
      (r) => r.kind === 'plan',
      'the plan',
    );
    const proposed = request.payload as { facts: string; steps: { agent: string; task: string }[] };
    assert.deepEqual(
      proposed.steps.map((s) => s.agent),
      ['investigator', 'communicator', 'remediator'],
    );

    const { context, page } = await signIn(browser, server, 'alice', { width: 1280, height: 1000 });
    contexts.push(context);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await option(page, request.id).click();
    const card = page
      .getByRole('region', { name: 'Request detail' })
      .locator(`[data-request-id="${request.id}"]`);
    await card.waitFor();
    await card.getByRole('button', { name: /^Edit/ }).click();
    const form = card.getByRole('form', { name: 'Edit the proposal' });
    await form.getByText('The form follows the schema the server checks the edit against.').waitFor();
    const steps = form.getByRole('group', { name: /^steps/ }).first();
    const step = (n: number) => steps.getByRole('group', { name: `steps #${n}` });
    assert.equal(await step(3).count(), 1, 'one group of fields per proposed step');
    assert.equal(await form.locator('textarea.mono').count(), 0, 'no step is edited as raw JSON');
    assert.equal(
      await step(1)
        .getByLabel(/^agent/)
        .inputValue(),
      JSON.stringify('investigator'),
    );
    assert.equal(await step(1).getByLabel(/^task/).inputValue(), proposed.steps[0].task);

    // the communicator's step goes; the remediator's moves first; a new investigator step is added
    await steps.getByRole('button', { name: 'Remove steps #2' }).click();
    await steps.getByRole('button', { name: 'Move steps #2 up' }).click();
    assert.equal(
      await step(1)
        .getByLabel(/^agent/)
        .inputValue(),
      JSON.stringify('remediator'),
    );
    await step(1).getByLabel(/^task/).fill('Roll back deploy 4121 and verify checkout');
    await steps.getByRole('button', { name: 'Add to steps' }).click();
    await form.getByRole('button', { name: 'Submit edit' }).click();
    await form.getByText('steps #3.agent is required.').waitFor();
    await step(3)
      .getByLabel(/^agent/)
      .selectOption({ label: 'investigator' });
    await step(3).getByLabel(/^task/).fill('Confirm the 502s stopped in the load balancer logs');

    const diff = form.getByRole('region', { name: 'Changes against the proposal' });
    await diff.getByRole('row', { name: /steps #1\.agent/ }).waitFor();
    await diff.getByRole('row', { name: /steps #1\.task/ }).waitFor();
    await diff
      .getByRole('row', { name: /steps #3/ })
      .first()
      .waitFor();
    assert.equal(await form.getByRole('alert').count(), 0, 'the problem went with the fix');
    await screenshot(page, 'inbox-edit-plan');

    await form.getByRole('button', { name: 'Submit edit' }).click();
    await option(page, request.id).waitFor({ state: 'detached' });
    const view = await requestStatus(request.id);
    assert.deepEqual([view.status, view.outcome], ['resolved', 'edit']);
    const plans = (await events(server.client('alice'), runId)).filter((e) => e.type === 'plan.recorded');
    assert.deepEqual(plans.at(-1)?.data, {
      revision: 1,
      facts: proposed.facts,
      steps: [
        { agent: 'remediator', task: 'Roll back deploy 4121 and verify checkout' },
        { agent: 'investigator', task: proposed.steps[0].task },
        { agent: 'investigator', task: 'Confirm the 502s stopped in the load balancer logs' },
      ],
      source: 'human',
    });
  });

  it('pages: 50 requests, "Load more" for the next, j past the last loads it too', async () => {
    const carol = server.client('carol');
    const started: string[] = [];
    for (let i = 0; i < 60; i += 10)
      started.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, j) =>
            startRun(carol, 'refund-desk', `Please refund $${300 + i + j} for order #L${i + j}`),
          ),
        )),
      );
    const alice = server.client('alice');
    const total = await waitFor('the sixty approvals open', async () => {
      const page = (await alice.get('/api/requests?kind=approval&limit=500')).body as {
        total: number;
        requests: { runId: string }[];
      };
      return started.every((id) => page.requests.some((r) => r.runId === id))
        ? (await alice.get('/api/requests')).body.total
        : undefined;
    });
    assert.ok(total > 60);

    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.getByRole('link', { name: 'Inbox' }).click();
    const more = page.getByTestId('inbox-more');
    await more.waitFor();
    assert.equal(await options(page).count(), 50, 'one page');
    assert.equal(await page.getByTestId('inbox-count').textContent(), `${total} of ${total} requests`);
    assert.match((await more.textContent()) ?? '', new RegExp(`^${total - 50} more`));
    await more.getByRole('button', { name: 'Load more' }).click();
    await waitFor('the next page', async () => (await options(page).count()) === Math.min(total, 100));
    const ids = await options(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-request-id')));
    assert.equal(new Set(ids).size, ids.length, 'no request twice');

    // a filter is a new query: its first page; j past its last row brings the next
    await page.getByLabel('Order').selectOption('age');
    await page.getByLabel('Kind').selectOption('approval');
    await waitFor('the first page of approvals', async () => {
      const kinds = await options(page).evaluateAll((els) =>
        els.map((e) => e.querySelector('.badge')?.textContent),
      );
      return kinds.length === 50 && kinds.every((k) => k === 'approval') ? true : undefined;
    });
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < 50; i++) await page.keyboard.press('j');
    await waitFor('j past the last row loaded the next page', async () => (await options(page).count()) > 50);
  });
});
