import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { stringify as stringifyYaml } from 'yaml';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ModelProxy, ParleyProcess, REPO_ROOT, waitFor, type TestUser } from '@parley/testing';
import { events, getRun, startRun, waitForRequest, waitForStatus, type Envelope } from '../patterns/helpers';
import { launchBrowser, prepareConsole, screenshot, signIn } from './console-harness';

/**
 * The run page's actions in a real Chromium against a real server process, whose model (the offline
 * one over HTTP, through a proxy that can refuse connections) can be made to fail: Retry on a run
 * whose model call failed, offered by the permissions and carried out from the page; and the
 * routing panel of a handoff run, from which an approver re-routes the conversation to another
 * specialist, who then answers.
 */
describe('the run page: retry and re-route (Chromium, playwright-core)', () => {
  let model: OfflineModelServer;
  let proxy: ModelProxy;
  let server: ParleyProcess;
  let browser: Browser;
  let workflowsDir: string;
  const contexts: BrowserContext[] = [];

  before(async () => {
    prepareConsole();
    model = await startOfflineModelServer();
    proxy = await ModelProxy.start(model.url);
    workflowsDir = mkdtempSync(join(tmpdir(), 'parley-run-actions-workflows-'));
    writeFileSync(
      join(workflowsDir, 'helpdesk.yaml'),
      stringifyYaml({
        name: 'helpdesk',
        pattern: 'single-agent',
        agent: 'helper',
        agents: [{ name: 'helper', system: 'You are the helper. Answer the question.' }],
        // short delays: the run fails fast while the model is down
        retries: { attempts: 2, backoff: '20ms', maxBackoff: '100ms' },
      }),
    );
    copyFileSync(
      join(REPO_ROOT, 'workflows', 'support-triage.yaml'),
      join(workflowsDir, 'support-triage.yaml'),
    );
    server = await ParleyProcess.start({
      env: { OPENAI_BASE_URL: proxy.url, OPENAI_API_KEY: 'test-key', PARLEY_WORKFLOWS_DIR: workflowsDir },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.dispose();
    await proxy?.close();
    await model?.close();
    if (workflowsDir) rmSync(workflowsDir, { recursive: true, force: true });
  });

  const open = async (user: TestUser, runId: string): Promise<Page> => {
    const { context, page } = await signIn(browser, server, user);
    contexts.push(context);
    await page.goto(`${server.url}/console/#/runs/${encodeURIComponent(runId)}`);
    await page.getByTestId('run-actions').waitFor();
    return page;
  };

  it('Retry: offered on a run whose model call failed to its requester, not to a viewer or another participant; clicked, the run continues and completes', async () => {
    const carol = server.client('carol');
    let runId: string;
    await proxy.refuseConnections();
    try {
      runId = await startRun(carol, 'helpdesk', 'Is the store open on Sunday?');
      const failed = await waitForStatus(carol, runId, 'failed');
      assert.equal(failed.failure?.code, 'MODEL_CALL_FAILED');
    } finally {
      await proxy.acceptConnections();
    }

    // a viewer, and a participant who did not start the run: Retry disabled, with the roles it is for
    // (a viewer holds no run role at all; a participant is refused by the run's permissions)
    const refusedWith = { victor: 'AUTH.ROLE_REQUIRED', maya: 'RUN.FORBIDDEN' } as const;
    for (const user of ['victor', 'maya'] as const) {
      const page = await open(user, runId);
      await page.getByTestId('why-retry').waitFor();
      assert.equal(await page.getByTestId('action-retry').isDisabled(), true, `${user} may not retry`);
      assert.match(
        (await page.getByTestId('why-retry').textContent()) ?? '',
        /retry is for requester, approver/,
      );
      // and the server agrees
      const refused = await server.client(user).post(`/api/runs/${runId}/retry`, {});
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, refusedWith[user]);
    }

    // the requester: enabled, the failure shown; retried from the page
    const page = await open('carol', runId);
    await page
      .getByRole('alert')
      .getByText(/The run failed:/)
      .waitFor();
    const retry = page.getByTestId('action-retry');
    assert.equal(await retry.isEnabled(), true);
    assert.equal(await page.getByTestId('why-retry').count(), 0);
    await retry.click();
    await page.getByLabel('Reason (optional)').fill('The model is back');
    await screenshot(page, 'run-retry');
    await page.getByTestId('action-confirm').click();

    // visible in the page: completed, the failure gone, Retry no longer offered
    await page.locator('.run-summary').getByText('completed', { exact: true }).waitFor();
    await page.getByTestId('why-retry').getByText('only a failed run is retried').waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'The run failed' }).count(), 0);
    assert.equal(await page.getByRole('form', { name: 'Retry the run' }).count(), 0, 'the form closed');

    // and over REST: the retry by carol as requester, with her reason, then the answer
    const run = await getRun(carol, runId);
    assert.equal(run.status, 'completed');
    assert.equal(run.failure, null);
    const log = await events(carol, runId);
    const retried = log.find((e) => e.type === 'run.retried') as Envelope;
    assert.ok(retried, 'a run.retried event');
    assert.deepEqual(retried.data, {
      by: { kind: 'human', id: 'carol', role: 'requester' },
      reason: 'The model is back',
      failedCode: 'MODEL_CALL_FAILED',
    });
    assert.deepEqual(
      log.filter((e) => e.seq > retried.seq).map((e) => e.type),
      ['model-call.started', 'model-call.completed', 'run.completed'],
    );
  });

  it("the routing panel: a participant is told re-routing is for the routing review's role; an approver re-routes billing to technical from the run page and technical answers", async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'support-triage', 'I was charged twice on my invoice');
    const review = await waitForRequest(alice, runId, (r) => r.subject.type === 'route', 'the route review');
    assert.deepEqual(review.request.roles, ['approver']);

    // carol (participant) while the routing review is open: no form (the server would refuse), the reason why
    const asCarol = await open('carol', runId);
    await asCarol.getByTestId('why-reroute').waitFor();
    assert.match(
      (await asCarol.getByTestId('why-reroute').textContent()) ?? '',
      /re-routing is for approver/,
    );
    assert.equal(await asCarol.getByLabel('Re-route to').count(), 0);
    const refused = await server
      .client('carol')
      .post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: 'looks technical' });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'RUN.FORBIDDEN');

    // alice (approver): the routing panel shows triage's decision; she re-routes
    const page = await open('alice', runId);
    const routing = page.getByTestId('triage');
    await routing.getByTestId('routing-step').first().waitFor();
    assert.match(
      (await routing.getByTestId('routing-step').first().textContent()) ?? '',
      /^handoff: triage → billing by triage/,
    );
    await page.getByTestId('current-agent').getByText('billing').waitFor();
    const reroute = page.getByRole('region', { name: 'Re-route' });
    const options = await reroute
      .getByLabel('Re-route to')
      .locator('option')
      .evaluateAll((els) => els.map((e) => e.getAttribute('value') ?? e.textContent));
    assert.ok(!options.includes('billing'), 'not to whoever holds the conversation');
    assert.ok(options.includes('technical'));
    // without a reason the page says so and sends nothing
    await reroute.getByLabel('Re-route to').selectOption('technical');
    await reroute.getByRole('button', { name: 'Re-route' }).click();
    await reroute.getByRole('alert').waitFor();
    assert.equal((await getRun(alice, runId)).currentAgent, 'billing', 'nothing was sent');

    await reroute.getByLabel('Reason').fill('The double charge comes from a checkout bug');
    await reroute.getByRole('button', { name: 'Re-route' }).click();
    await page.getByTestId('current-agent').getByText('technical').waitFor();

    // the run continues with technical and completes; the panel shows the override and the settled review
    await page.locator('.run-summary').getByText('completed', { exact: true }).waitFor();
    await page
      .getByRole('region', { name: 'Transcript' })
      .getByRole('listitem')
      .filter({ hasText: 'technical' })
      .first()
      .waitFor();
    let panel = '';
    await waitFor(
      'the override in the routing panel',
      async () =>
        /now with technical · 1 override$/.test(
          (panel = (await routing.locator('p').first().textContent()) ?? ''),
        ),
      { timeoutMs: 10_000 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}: the panel says ${panel}`);
    });
    const steps = await routing
      .getByTestId('routing-step')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-kind'), e.textContent ?? '']));
    assert.deepEqual(
      steps.map(([kind]) => kind),
      ['handoff', 'override', 'review'],
    );
    assert.match(
      steps[1]![1]!,
      /^override: billing → technical by alice \(approver\) · The double charge comes from a checkout bug$/,
    );
    assert.match(steps[2]![1]!, /technical by alice \(approver\) \(edit\)/);
    await screenshot(page, 'run-rerouted');

    // over REST: the override by alice, the review settled by it, and the next answer is technical's
    const log = await events(alice, runId);
    const overridden = log.find((e) => e.type === 'handoff.overridden') as Envelope;
    assert.deepEqual(overridden.data, {
      by: { id: 'alice', role: 'approver' },
      to: 'technical',
      reason: 'The double charge comes from a checkout bug',
    });
    const resolved = log.find(
      (e) => e.type === 'human-request.resolved' && e.data.requestId === review.request.id,
    ) as Envelope;
    assert.equal(resolved.data.outcome, 'edit');
    assert.deepEqual(resolved.data.payload, { to: 'technical' });
    const nextCall = log.find((e) => e.seq > overridden.seq && e.type === 'model-call.started') as Envelope;
    assert.equal(nextCall.data.agent, 'technical');
    const run = await getRun(alice, runId);
    assert.equal(run.status, 'completed');
    assert.equal(run.currentAgent, 'technical');
  });
});
