import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ParleyProcess, waitFor, type TestUser } from '@parley/testing';
import { decide, getRun, startRun, waitForRequest, waitForStatus } from '../patterns/helpers';
import { docScreenshot, launchBrowser, prepareConsole, screenshot, signIn } from './console-harness';

/**
 * The run page in a real Chromium against a real server process with the offline model: the
 * pattern graph lit from the events, the timeline, the magentic plan and ledger, tool-call cards,
 * and cancel / fork by the server's permission rule.
 */
describe('the run page (Chromium, playwright-core)', () => {
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

  const open = async (user: TestUser, runId: string): Promise<Page> => {
    const { context, page } = await signIn(browser, server, user);
    contexts.push(context);
    await page.goto(`${server.url}/console/#/runs/${encodeURIComponent(runId)}`);
    await page.getByTestId('pattern-graph').waitFor();
    return page;
  };
  const nodes = (page: Page): Promise<Array<[string, string, string]>> =>
    page
      .getByTestId('graph-node')
      .evaluateAll((els) =>
        els.map((e) => [
          e.getAttribute('data-node') ?? '',
          e.getAttribute('data-state') ?? '',
          e.getAttribute('data-current') ?? '',
        ]),
      );
  const lit = async (page: Page): Promise<string[]> =>
    (await nodes(page)).filter(([, , current]) => current === 'true').map(([id]) => id);
  const litBecomes = async (page: Page, expected: string[]): Promise<void> => {
    await waitFor(
      `the lit nodes to be [${expected.join(', ')}]`,
      async () => JSON.stringify(await lit(page)) === JSON.stringify(expected),
      { timeoutMs: 20_000 },
    );
  };

  it('magentic: the graph lit at the plan gate, then the plan revisions, the progress ledger and the timeline with human waits', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'incident-response', 'Checkout returns HTTP 500 for 30% of users');
    const plan0 = await waitForRequest(alice, runId, (r) => r.kind === 'plan');
    const page = await open('alice', runId);
    assert.deepEqual(
      (await nodes(page)).map(([id]) => id),
      [
        'human:plan',
        'agent:incident-commander',
        'agent:investigator',
        'agent:communicator',
        'agent:remediator',
        'human:findings',
      ],
    );
    await litBecomes(page, ['human:plan']);
    const gate = page.locator('[data-node="human:plan"]');
    assert.equal(await gate.getAttribute('data-state'), 'waiting');
    assert.match((await gate.getAttribute('aria-label')) ?? '', /current/);
    assert.match((await gate.getAttribute('class')) ?? '', /\bcurrent\b/);
    assert.equal(
      await page.locator('[data-node="agent:incident-commander"]').getAttribute('data-state'),
      'done',
    );
    // an open human-wait bar, on the approvers' lane
    const waiting = page.locator('[data-testid="timeline-bar"][data-kind="human"]');
    await waiting.first().waitFor();
    assert.equal(await waiting.first().getAttribute('data-lane'), 'humans: approver');

    await decide(alice, plan0.request.id, { decision: 'feedback', comment: 'Talk to customers first.' });
    const plan1 = await waitForRequest(alice, runId, (r) => r.kind === 'plan' && r.id !== plan0.request.id);
    await decide(alice, plan1.request.id, { decision: 'approve', payloadHash: plan1.request.payloadHash });
    const findings = await waitForRequest(alice, runId, (r) => r.subject.type === 'findings');
    await litBecomes(page, ['human:findings']);
    await decide(alice, findings.request.id, { decision: 'approve' });
    await waitForStatus(alice, runId, 'completed');
    await page.locator('.run-summary').getByText('completed', { exact: true }).waitFor();
    await litBecomes(page, []);
    assert.ok(
      (await nodes(page)).every(([, state]) => state === 'done'),
      'every node done at the end',
    );

    const plan = page.getByTestId('magentic-plan');
    const revisions = plan.getByTestId('plan-revision');
    assert.equal(await revisions.count(), 2);
    assert.match(
      (await revisions.nth(0).getByTestId('plan-review').textContent()) ?? '',
      /feedback.*alice \(approver\).*Talk to customers first\./,
    );
    assert.match((await revisions.nth(1).textContent()) ?? '', /Revision 1 \(followed\)/);
    assert.match((await revisions.nth(1).getByTestId('plan-review').textContent()) ?? '', /approve/);
    const ledger = plan.getByTestId('ledger-entry');
    assert.ok((await ledger.count()) >= 1, 'the manager kept its progress ledger');
    assert.match((await plan.getByTestId('ledger-stalls').textContent()) ?? '', /\d+ entries/);

    const bars = page.getByTestId('timeline-bar');
    const kinds = await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    const run = await getRun(alice, runId);
    assert.ok(kinds.filter((k) => k === 'model').length >= 3, 'the manager and specialists spoke');
    assert.equal(kinds.filter((k) => k === 'human').length, 3, 'two plan reviews and the findings');
    const humanLanes = page.locator('[data-testid="timeline-lane"][data-lane="humans: approver"]');
    assert.equal(await humanLanes.count(), 1);
    assert.match((await page.getByTestId('waited-on').first().textContent()) ?? '', /^humans: approver: /);
    assert.match(
      (await page.locator('[data-kind="human"]').first().getAttribute('aria-label')) ?? '',
      /waited on approver, answered by alice \(approver\)/,
    );
    assert.equal(run.status, 'completed');
    await docScreenshot(page, 'console-run-magentic');
  });

  it('concurrent: three workers lit at once into the aggregator, the validation lit while it waits; lanes per worker', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'market-analysis', 'Should we launch a budget e-bike in Spain?');
    const validation = await waitForRequest(alice, runId, (r) => r.kind === 'review');
    const page = await open('alice', runId);
    assert.deepEqual((await nodes(page)).map(([id]) => id).sort(), [
      'agent:competition-analyst',
      'agent:financial-analyst',
      'agent:lead-analyst',
      'agent:market-analyst',
      'human:result',
    ]);
    await litBecomes(page, ['human:result']);
    assert.equal(await page.locator('.graph-edge').count(), 4);
    await decide(alice, validation.request.id, { decision: 'approve' });
    await waitForStatus(alice, runId, 'completed');
    await litBecomes(page, []);
    const lanes = await page
      .getByTestId('timeline-lane')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-lane')));
    assert.deepEqual(lanes, [
      'market-analyst',
      'financial-analyst',
      'competition-analyst',
      'lead-analyst',
      'humans: approver',
    ]);
    const bars = page.getByTestId('timeline-bar');
    assert.equal(await bars.count(), 5, 'four model calls and one human wait');
    assert.equal(await page.locator('[data-testid="timeline-bar"][data-kind="human"]').count(), 1);
    assert.match((await page.getByTestId('timeline-totals').textContent()) ?? '', /human waits/);
    assert.equal(await page.getByTestId('magentic-plan').count(), 0, 'no plan outside magentic');
    await docScreenshot(page, 'console-run-concurrent');
  });

  it('a refund with approval: the tool-call card shows its arguments, result, approver and payload hash', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const runId = await startRun(
      carol,
      'refund-desk',
      'Please refund $120 for order #A201, it arrived broken',
    );
    const approval = await waitForRequest(alice, runId, (r) => r.kind === 'approval');
    await decide(alice, approval.request.id, {
      decision: 'approve',
      payloadHash: approval.request.payloadHash,
    });
    await waitForStatus(alice, runId, 'completed');
    const page = await open('alice', runId);
    const card = page.locator('[data-testid="tool-call"][data-tool="process_refund"]');
    await card.getByText('completed', { exact: true }).waitFor();
    assert.equal(await card.getByTestId('args-hash').textContent(), approval.request.payloadHash);
    const approver = card.getByTestId('tool-approver');
    assert.equal(await approver.count(), 1);
    const text = (await approver.textContent()) ?? '';
    assert.match(text, /approve by alice \(approver\) on /);
    assert.match(text, new RegExp(approval.request.payloadHash.slice(0, 12)));
    assert.match(text, /\(the payload shown\)/);
    assert.match((await card.textContent()) ?? '', /A201/);
    assert.equal(await page.locator('[data-testid="timeline-bar"][data-kind="tool"]').count(), 1);
    await screenshot(page, 'run-refund');
  });

  it('cancel and fork follow the permissions: a participant sees them disabled with why; the requester may cancel; an approver forks into a new run', async () => {
    const alice = server.client('alice');
    const carol = server.client('carol');
    // a run carol started, waiting on an approver
    const runId = await startRun(carol, 'refund-desk', 'Please refund $150 for order #B7, never arrived');
    await waitForRequest(alice, runId, (r) => r.kind === 'approval');

    const asCarol = await open('carol', runId);
    assert.equal(await asCarol.getByTestId('action-cancel').isEnabled(), true, 'the requester may cancel');
    assert.equal(await asCarol.getByTestId('action-fork').isDisabled(), true);
    assert.match((await asCarol.getByTestId('why-fork').textContent()) ?? '', /fork is for approver/);
    assert.equal(await asCarol.getByTestId('action-retry').isDisabled(), true);
    assert.match((await asCarol.getByTestId('why-retry').textContent()) ?? '', /only a failed run/);

    // on alice's run carol may not cancel either
    const other = await startRun(alice, 'refund-desk', 'Please refund $130 for order #C9, it arrived broken');
    await waitForRequest(alice, other, (r) => r.kind === 'approval');
    await asCarol.goto(`${server.url}/console/#/runs/${encodeURIComponent(other)}`);
    await asCarol.getByTestId('why-cancel').waitFor();
    assert.equal(await asCarol.getByTestId('action-cancel').isDisabled(), true);
    assert.match(
      (await asCarol.getByTestId('why-cancel').textContent()) ?? '',
      /cancel is for requester, approver/,
    );

    // carol cancels her own run from the page
    await asCarol.goto(`${server.url}/console/#/runs/${encodeURIComponent(runId)}`);
    await asCarol.getByTestId('action-cancel').click();
    await asCarol.getByLabel('Reason (optional)').fill('Sent by mistake');
    await asCarol.getByTestId('action-confirm').click();
    await waitForStatus(carol, runId, 'cancelled');
    await asCarol.getByTestId('why-cancel').getByText('the run is cancelled').waitFor();

    // alice forks the cancelled run at its third event: a new run, and the page opens it
    const asAlice = await open('alice', runId);
    assert.equal(await asAlice.getByTestId('action-fork').isEnabled(), true);
    assert.equal(await asAlice.getByTestId('action-cancel').isDisabled(), true, 'the run has ended');
    await asAlice.getByTestId('action-fork').click();
    await asAlice.getByLabel(/Fork after event/).fill('3');
    await asAlice.getByLabel('Why you fork').fill('Try again with the approval');
    await asAlice.getByTestId('action-confirm').click();
    await waitFor('the page to open the fork', () => !asAlice.url().includes(encodeURIComponent(runId)), {
      timeoutMs: 20_000,
    });
    const forkId = decodeURIComponent(asAlice.url().split('#/runs/')[1] ?? '');
    assert.ok(forkId && forkId !== runId);
    await asAlice.getByText(`run ${forkId}`).waitFor();
    const fork = await getRun(alice, forkId);
    assert.equal(fork.workflow, 'refund-desk');
    const started = (await alice.get(`/api/runs/${encodeURIComponent(forkId)}/events`)).body as {
      events: Array<{
        type: string;
        data: { forkOf?: { runId: string; atSeq: number; note: string; by: { id: string } } };
      }>;
    };
    const forkOf = started.events.find((e) => e.type === 'run.started')?.data.forkOf;
    assert.deepEqual(
      [forkOf?.runId, forkOf?.atSeq, forkOf?.note, forkOf?.by.id],
      [runId, 3, 'Try again with the approval', 'alice'],
    );
  });
});
