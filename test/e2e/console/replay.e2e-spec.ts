import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, newSigningKey, resealedExport } from '@parley/testing';
import { decide, events, startRun, waitForRequest, waitForStatus } from '../patterns/helpers';
import { docScreenshot, launchBrowser, prepareConsole, signIn } from './console-harness';

/** A peer the server trusts (PARLEY_TRUSTED_KEYS), whose exports an admin imports from the console. */
const peer = newSigningKey();
const stranger = newSigningKey();

/** The replay page: the state at an event as a tree with what changed, fork from there, import (admin). */
describe('the console replay: state tree and diff, fork from an event, import (Chromium)', () => {
  let server: ParleyProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let runId: string;
  let log: EventEnvelope[];

  before(async () => {
    prepareConsole();
    server = await ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: peer.publicKey } });
    browser = await launchBrowser();
    const alice = server.client('alice');
    runId = await startRun(server.client('carol'), 'refund-desk', 'Please refund $130 for order #R77');
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'approval', 'the approval');
    await decide(alice, request.id, { decision: 'approve', comment: 'entitled' });
    await waitForStatus(alice, runId, 'completed');
    log = (await alice.get(`/api/runs/${runId}/events`)).body.events as EventEnvelope[];
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.dispose();
  });

  it('shows the state at an event as a tree, marks what changed since the previous one, and forks from it', async () => {
    const opened = log.find((e) => e.type === 'human-request.opened')!;
    const { context, page } = await signIn(browser, server, 'alice', { width: 1280, height: 1000 });
    contexts.push(context);
    await page.goto(`${server.url}/console/#/replay/${encodeURIComponent(runId)}`);
    await page.getByText(`The run at event ${log.length}`).waitFor();

    await page.getByRole('button', { name: new RegExp(`#${opened.seq} human-request.opened`) }).click();
    await page.getByText(`The run at event ${opened.seq}`).waitFor();
    const tree = page.getByTestId('state-tree');
    await tree.getByText(`Marked: what changed since event ${opened.seq - 1}.`).waitFor();
    const at = (path: string) => tree.locator(`[data-path="${path}"]`).first();
    assert.equal(await at('pendingRequests').getAttribute('data-changed'), 'true', 'a request opened');
    assert.equal(await at('pendingRequests').getAttribute('open'), '', 'what changed is unfolded');
    assert.equal(await at('pendingRequests.0.kind').textContent(), 'kind: "approval" changed');
    assert.equal(await at('runId').getAttribute('data-changed'), 'false', 'the run id did not change');
    assert.equal(await at('runId').textContent(), `runId: "${runId}"`);
    await docScreenshot(page, 'console-replay');

    // one event later (the approval decided): the request leaves; it is listed as gone
    const next = log[opened.seq];
    await page
      .getByRole('button', { name: new RegExp(`#${next.seq} ${next.type.replace('.', '\\.')}`) })
      .click();
    await page.getByText(`The run at event ${next.seq}`).waitFor();
    await tree.getByText(`Marked: what changed since event ${opened.seq}.`).waitFor();

    // fork from the event the request opened at: a new run with the history up to it
    await page.getByRole('button', { name: new RegExp(`#${opened.seq} human-request.opened`) }).click();
    const fork = page.getByRole('form', { name: 'Fork from this event' });
    await fork.getByLabel(`Why you fork from event ${opened.seq}`).fill('Try a smaller refund');
    await fork.getByRole('button', { name: `Fork from event ${opened.seq}` }).click();
    await page.waitForURL((url) => /#\/runs\/[0-9a-f-]{36}$/.test(url.hash) && !url.hash.includes(runId));
    const forkId = decodeURIComponent(new URL(page.url()).hash.split('/').pop()!);
    const forked = await events(server.client('alice'), forkId);
    const started = forked.find((e) => e.type === 'run.started')!;
    const forkOf = (started.data as { forkOf?: { runId: string; atSeq: number; note?: string } }).forkOf;
    assert.deepEqual(
      [forkOf?.runId, forkOf?.atSeq, forkOf?.note],
      [runId, opened.seq, 'Try a smaller refund'],
      'the new run says what it was forked from, at which event, and why',
    );
  });

  it('offers no fork to whom the workflow does not allow it, and says why', async () => {
    const { context, page } = await signIn(browser, server, 'carol');
    contexts.push(context);
    await page.goto(`${server.url}/console/#/replay/${encodeURIComponent(runId)}`);
    await page.getByTestId('fork-here-why').getByText('Forking: fork is for approver.').waitFor();
    assert.equal(await page.getByRole('form', { name: 'Fork from this event' }).count(), 0);
  });

  it('lets an admin import an export signed by a trusted key, and refuses one that is not', async () => {
    const { context, page } = await signIn(browser, server, 'admin');
    contexts.push(context);
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByText('Import an export (admin)').click();
    const form = page.getByRole('form', { name: 'Import an export' });

    const untrusted = resealedExport(log, randomUUID(), stranger.file);
    await form.getByLabel(/^Export file/).setInputFiles({
      name: 'untrusted.ndjson',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from(untrusted),
    });
    await form.getByRole('button', { name: 'Import' }).click();
    await form.getByText(/^Nothing was imported: /).waitFor();

    const importedId = randomUUID();
    await form.getByLabel(/^Export file/).setInputFiles({
      name: 'peer.ndjson',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from(resealedExport(log, importedId, peer.file)),
    });
    await form.getByLabel(/^Note/).fill('from the peer desk');
    await form.getByRole('button', { name: 'Import' }).click();
    const imported = page.getByRole('list', { name: 'Imported runs' });
    await imported.getByRole('link', { name: importedId }).waitFor();
    await imported.getByText(`${log.length} events`).waitFor();
    assert.equal((await server.client('alice').get(`/api/runs/${importedId}`)).status, 200);

    await imported.getByRole('link', { name: importedId }).click();
    await page
      .getByTestId('chain-badge')
      .getByText(/Hash chain verified/)
      .waitFor();
  });

  it('shows no import to someone who is not an admin', async () => {
    const { context, page } = await signIn(browser, server, 'alice');
    contexts.push(context);
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('heading', { name: 'Runs', exact: true, level: 1 }).waitFor();
    assert.equal(await page.getByText('Import an export (admin)').count(), 0);
  });
});
