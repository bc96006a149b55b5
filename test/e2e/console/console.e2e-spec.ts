import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { ParleyProcess, waitFor } from '@parley/testing';
import { decide, startRun, waitForRequest, waitForStatus } from '../patterns/helpers';
import { RECORD_STREAMING, launchBrowser, prepareConsole, screenshot, signIn } from './console-harness';

/**
 * The web console in a real Chromium, against a real server (real HTTP, real socket.io), with
 * the offline model streaming a token every 5 ms.
 */
describe('the web console (Chromium, playwright-core)', () => {
  let server: ParleyProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    prepareConsole();
    server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '5' } });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.dispose();
  });

  it('serves the built console at /console with an SPA fallback; a bad token is refused with a sentence', async () => {
    const index = await fetch(`${server.url}/console/inbox/anything`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<div id="root">/);
    const missing = await fetch(`${server.url}/console/assets/nope.js`);
    assert.equal(missing.status, 404);
    const { context, page } = await (async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      return { context, page: await context.newPage() };
    })();
    contexts.push(context);
    await page.goto(`${server.url}/console`);
    await page.getByLabel('Token').fill('not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('That token is not valid').waitFor();
    await screenshot(page, 'sign-in');
  });

  it('sends a strict Content-Security-Policy: the console runs under it with no violation, an injected inline script does not run', async () => {
    const index = await fetch(`${server.url}/console/`);
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline, no unsafe-eval');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    const asset = (await index.text()).match(/src="([^"]+\.js)"/)?.[1];
    assert.ok(asset, 'the index names its script');
    assert.match(
      (await fetch(`${server.url}${asset}`)).headers.get('content-security-policy') ?? '',
      /default-src/,
    );

    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    // every violation of the policy in the page is recorded (the init script runs in each new document)
    await context.addInitScript(
      "window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));",
    );
    await page.reload();
    await page.goto(`${server.url}/console/#/inbox`);
    await page.getByRole('heading', { name: /inbox/i }).first().waitFor();
    await page.goto(`${server.url}/console/#/runs`);
    await page.getByRole('heading', { name: /runs/i }).first().waitFor();
    assert.deepEqual(
      await page.evaluate('window.__violations'),
      [],
      'the console itself needs nothing the policy forbids',
    );
    const ran = await page.evaluate(
      "new Promise((resolve) => { const s = document.createElement('script'); s.textContent = 'window.__injected = true'; document.body.appendChild(s); setTimeout(() => resolve(window.__injected === true), 100); })",
    );
    assert.equal(ran, false, 'an inline script injected into the page does not run');
  });

  it('a participant starts a debate, watches it stream live, speaks when given the floor, and an agent answers', async () => {
    const { context, page } = await signIn(browser, server, 'carol');
    contexts.push(context);
    await context.addInitScript(RECORD_STREAMING);
    const start = page.getByRole('region', { name: 'Start a run' });
    await start.getByLabel('Workflow').selectOption('debate');
    await start.getByLabel('Input').fill('Motion: remote work is better than working at the office');
    await start.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/#\/runs\/.+/);
    const runId = decodeURIComponent(page.url().split('#/runs/')[1]);
    // reload so that the recorder is installed from the start (addInitScript applies to new documents)
    await page.reload();

    const transcript = page.getByRole('region', { name: 'Transcript' });
    await page.getByText('The floor is yours').waitFor();
    // the floor is a human's: no agent is named as the next speaker
    await page.getByTestId('next-speaker').getByText('a human (the floor is open)').waitFor();
    await page
      .getByRole('complementary', { name: 'Pending requests' })
      .getByRole('article')
      .first()
      .waitFor();
    const said = 'Commuting wastes two hours of every working day';
    await page.getByLabel('Your message').fill(said);
    await page.getByRole('button', { name: 'Send message' }).click();
    await transcript
      .getByRole('listitem')
      .filter({ hasText: 'carol' })
      .filter({ hasText: said })
      .first()
      .waitFor();
    // the next speaker quotes the human (the offline model quotes the last message it got)
    await transcript.getByText(`You wrote: "[carol] ${said}"`).first().waitFor();
    await screenshot(page, 'debate-live');

    // tokens streamed: the bubble showed part of a message before the message completed
    let streamed: string[] = [];
    await waitFor(
      'a partial streamed text that a completed message later extends',
      async () => {
        streamed = (await page.evaluate('window.__streamed')) as string[];
        const finals = await transcript.getByRole('listitem').locator('.text').allTextContents();
        return streamed.find((text) =>
          finals.some((final) => final.length > text.length && final.startsWith(text)),
        );
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((error: Error) =>
      assert.fail(
        `${error.message}; recorded ${streamed.length} streamed texts: ${JSON.stringify(streamed.slice(-3))}`,
      ),
    );
    const run = (await server.client('carol').get(`/api/runs/${runId}`)).body;
    assert.equal(run.workflow, 'debate');
  });

  it('an approver approves a refund from the inbox: the request leaves the inbox and the run completes', async () => {
    const runId = await startRun(server.client('carol'), 'refund-desk', 'Please refund $120 for order #A123');
    await waitForRequest(server.client('alice'), runId, (r) => r.kind === 'approval', 'the refund approval');
    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.getByRole('link', { name: 'Inbox' }).click();
    const { request } = await waitForRequest(server.client('alice'), runId, (r) => r.kind === 'approval');
    const row = page.locator(`[role="option"][data-request-id="${request.id}"]`);
    await row.click();
    const detail = page.getByRole('region', { name: 'Request detail' });
    await detail.getByRole('link', { name: runId }).waitFor();
    await detail.getByRole('button', { name: 'Approve' }).waitFor();
    await detail.getByText('process_refund').first().waitFor();
    await screenshot(page, 'inbox');
    await detail.getByRole('button', { name: 'Approve' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('link', { name: runId }).click();
    await page.locator('.run-summary').getByText('completed', { exact: true }).waitFor();
    await page.getByRole('region', { name: 'Output' }).waitFor();
    await screenshot(page, 'refund-completed');
  });

  it('an operator re-routes a handoff to technical, and the technical specialist answers', async () => {
    const runId = await startRun(
      server.client('alice'),
      'support-triage',
      'I was charged twice on my invoice',
    );
    await waitForRequest(
      server.client('alice'),
      runId,
      (r) => r.subject.type === 'route',
      'the route review',
    );
    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.goto(`${server.url}/console/#/runs/${encodeURIComponent(runId)}`);
    await page.getByTestId('current-agent').getByText('billing').waitFor();
    // billing holds the conversation: the triage that spoke last is not named as the next speaker
    await page.locator('.run-summary').getByText('live', { exact: true }).waitFor();
    await waitFor(
      'no next speaker named',
      async () => (await page.getByTestId('next-speaker').count()) === 0,
    );
    const reroute = page.getByRole('region', { name: 'Re-route' });
    await reroute.getByLabel('Re-route to').selectOption('technical');
    await reroute.getByLabel('Reason').fill('The double charge comes from a checkout bug');
    await screenshot(page, 'handoff-before');
    await reroute.getByRole('button', { name: 'Re-route' }).click();
    await page.getByTestId('current-agent').getByText('technical').waitFor();
    await page
      .getByRole('region', { name: 'Transcript' })
      .getByRole('listitem')
      .filter({ hasText: 'technical' })
      .filter({ hasText: 'agent' })
      .first()
      .waitFor();
    await page.locator('.run-summary').getByText('completed', { exact: true }).waitFor();
    await screenshot(page, 'handoff-rerouted');
  });

  it('replay: scrubbing to an earlier event shows the state then; the chain verifies; the log downloads; the audit trail says who decided', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const runId = await startRun(carol, 'refund-desk', 'Please refund $120 for order #A123');
    const { request } = await waitForRequest(
      alice,
      runId,
      (r) => r.kind === 'approval',
      'the refund approval',
    );
    await decide(alice, request.id, { decision: 'approve', comment: 'customer is entitled' });
    await waitForStatus(alice, runId, 'completed');
    const log = (await alice.get(`/api/runs/${runId}/events`)).body.events as Array<{
      seq: number;
      type: string;
    }>;
    const opened = log.find((e) => e.type === 'human-request.opened')!;

    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.goto(`${server.url}/console/#/replay/${encodeURIComponent(runId)}`);
    await page.getByTestId('chain-badge').getByText(`Hash chain verified (${log.length} events)`).waitFor();
    const stateRegion = page.locator('section.state');
    await page.getByText(`The run at event ${log.length}`).waitFor();
    await page.getByTestId('state-pending').getByText('0 open requests').waitFor();
    const entriesAtHead = await stateRegion.locator('.transcript > li').count();

    await page.getByRole('button', { name: new RegExp(`#${opened.seq} human-request.opened`) }).click();
    await page.getByText(`The run at event ${opened.seq}`).waitFor();
    await page.getByTestId('state-pending').getByText('1 open requests').waitFor();
    await stateRegion.getByRole('article').getByText(request.title).waitFor();
    const entriesThen = await stateRegion.locator('.transcript > li').count();
    assert.ok(
      entriesThen < entriesAtHead,
      `fewer transcript entries at event ${opened.seq} (${entriesThen}) than at the head (${entriesAtHead})`,
    );

    // keyboard: the slider steps back one event
    await page.getByLabel(/^Event \d+ of \d+$/).focus();
    await page.keyboard.press('ArrowLeft');
    await page.getByText(`The run at event ${opened.seq - 1}`).waitFor();
    await page.getByTestId('state-pending').getByText('0 open requests').waitFor();
    await page.keyboard.press('ArrowRight');
    await page.getByText(`The run at event ${opened.seq}`).waitFor();

    await page.getByRole('table').getByText('customer is entitled').waitFor();
    assert.ok(
      await page
        .getByRole('table')
        .getByText(/alice \(approver\) chose/)
        .isVisible(),
    );
    // the actions on the run, attributed: who started it
    await page
      .getByRole('region', { name: 'Actions on this run' })
      .getByText(/human:carol started the run/)
      .waitFor();
    await screenshot(page, 'replay');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download the log (NDJSON)' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `parley-${runId}.ndjson`);
    const file = await download.path();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(JSON.parse(lines[0]).kind, 'parley.export');
    assert.equal(lines.length, log.length + 1);
  });

  it('a viewer sees runs and requests but no action: no start form, no decide, post or re-route control', async () => {
    const refund = await startRun(
      server.client('carol'),
      'refund-desk',
      'Please refund $130 for order #A124',
    );
    await waitForRequest(server.client('alice'), refund, (r) => r.kind === 'approval', 'the refund approval');
    const triage = await startRun(server.client('carol'), 'support-triage', 'The app crashes when I log in');
    await waitForRequest(
      server.client('alice'),
      triage,
      (r) => r.subject.type === 'route',
      'the route review',
    );

    const { context, page } = await signIn(browser, server, 'victor');
    contexts.push(context);
    await page.getByRole('link', { name: refund }).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Start a run' }).count(), 0);
    await page.getByRole('link', { name: refund }).click();
    const pending = page.getByRole('complementary', { name: 'Pending requests' });
    await pending.getByRole('article').first().waitFor();
    await page.locator('.run-summary').waitFor();
    assert.equal(await page.getByRole('button', { name: /Approve|Reject|Claim|Edit/ }).count(), 0);
    await screenshot(page, 'viewer-run');

    await page.goto(`${server.url}/console/#/runs/${encodeURIComponent(triage)}`);
    await page.getByTestId('current-agent').waitFor();
    await pending.getByRole('article').first().waitFor();
    assert.equal(
      await page
        .getByRole('button')
        .filter({ hasText: /Approve|Edit|Re-route|Send message|Claim/ })
        .count(),
      0,
    );
    assert.equal(await page.getByLabel('Re-route to').count(), 0);

    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByText('Nothing waits for you').waitFor();

    // a narrow screen: the layout stacks
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('link', { name: refund }).waitFor();
    await screenshot(page, 'viewer-runs-narrow');
  });
});
