/**
 * The console at scale: seed N runs (one in ten waiting on an open approval, the rest completed) into a
 * server's SQLite data folder with the real RunEngine in-process (instant model, 200 starts in flight,
 * the same refund-desk workflow the server reads), start a real server on that folder (it loads them the
 * normal way, the RunsProjection catching up from the log), then open the inbox and the runs list in
 * Chromium and time the first paint of each list, and time a page of GET /api/requests and of GET /api/runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SqliteEventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { ParleyProcess, TEST_USERS } from '@parley/testing';
import { InstantModelGateway, REQUESTER, fixture } from '../../scripts/bench/common';
import { launchBrowser, prepareConsole, signIn } from '../e2e/console/console-harness';
import { log, pool, summarize, type Summary } from './load-kit';

const IN_FLIGHT = 200;
/** One run in this many waits on an approval (a $101..$500 refund); the others refund $5..$99 and complete. */
const WAITING_EVERY = 10;

export interface ConsoleScaleFigures {
  runs: number;
  openRequests: number;
  seedSeconds: number;
  seedRunsPerSecond: number;
  serverReadySeconds: number;
  /** Route change (from the other list) to the first row painted, ms. */
  inboxRouteMs: Summary;
  runsRouteMs: Summary;
  /** Page load (navigation start) to the first row painted, ms. */
  inboxLoadMs: Summary;
  runsLoadMs: Summary;
  /** Rows the inbox drew, and the "N more" it said. */
  inboxRows: number;
  inboxMore: string;
  apiRequestsMs: Summary;
  apiRunsMs: Summary;
  apiRequestsBytes: number;
}

/** Seed `runs` runs into `dataDir` through the engine; resolves when every run has paused or completed. */
export async function seedRuns(dataDir: string, runs: number): Promise<{ seconds: number; open: number }> {
  const fx = fixture();
  // synchronous NORMAL: the seed's durability is not what is measured (the server opens the folder with its own setting)
  const store = new SqliteEventStore({ dataDir, synchronous: 'normal' });
  let settled = 0;
  let open = 0;
  const failures: string[] = [];
  const engine = new RunEngine({
    store,
    models: new InstantModelGateway(),
    tools: fx.tools,
    onAppended: (events) => {
      for (const e of events) {
        if (e.type === 'human-request.opened') {
          open++;
          settled++;
        } else if (e.type === 'run.completed') settled++;
        else if (e.type === 'run.failed' || e.type === 'escalation.raised')
          failures.push(`${e.type} ${JSON.stringify(e.data)}`);
      }
    },
    log: (line) => process.stderr.write(`[engine] ${line}\n`),
  });
  const workflow = fx.workflows['refund-desk'];
  const t0 = performance.now();
  let started = 0;
  await pool(
    Array.from({ length: runs }, (_, i) => i),
    IN_FLIGHT,
    async (i) => {
      const amount = i % WAITING_EVERY === 0 ? 101 + (i % 400) : 5 + (i % 95);
      await engine.start({
        workflow,
        input: `Please refund $${amount} for order #S${i}, it arrived broken.`,
        requestedBy: REQUESTER,
      });
      if (++started % 10_000 === 0)
        log(`seeded ${started} runs (${Math.round((performance.now() - t0) / 1000)} s)`);
    },
  );
  const deadline = Date.now() + 600_000;
  while (settled < runs && failures.length === 0) {
    if (Date.now() > deadline) throw new Error(`seeding: ${settled} of ${runs} runs settled`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (failures.length)
    throw new Error(`seeding: runs did not go as planned: ${failures.slice(0, 3).join('; ')}`);
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return { seconds, open };
}

/**
 * Installed before the console loads (browser code, as text: this project's TypeScript has no DOM
 * types): records performance.now() (ms since navigation start) in the frame after the first element
 * matching each selector appears in the DOM.
 */
const FIRST_ROW_PROBE = `
  window.__firstRow = {};
  const selectors = ['.inbox-row', 'table.runs tbody tr'];
  const observer = new MutationObserver(() => {
    for (const s of selectors)
      if (window.__firstRow[s] === undefined && document.querySelector(s)) {
        window.__firstRow[s] = -1;
        requestAnimationFrame(() => (window.__firstRow[s] = performance.now()));
      }
  });
  document.addEventListener('DOMContentLoaded', () =>
    observer.observe(document.body, { childList: true, subtree: true }),
  );
`;

/** The few browser globals the timing code uses (this project's TypeScript has no DOM types). */
interface InPage {
  __firstRow?: Record<string, number>;
  document: { querySelector(selector: string): unknown };
  location: { hash: string };
  performance: { now(): number };
  requestAnimationFrame(callback: () => void): void;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Load the console afresh at `url` (from about:blank: a hash change alone would not reload it) and time the first row. */
async function loadTime(page: Page, url: string, selector: string): Promise<number> {
  await page.goto('about:blank');
  await page.goto(url);
  await page.waitForFunction((s) => ((globalThis as unknown as InPage).__firstRow?.[s] ?? -1) > 0, selector, {
    timeout: 60_000,
  });
  return page.evaluate((s) => (globalThis as unknown as InPage).__firstRow?.[s] ?? NaN, selector);
}

/** From the page it is on, change the route to `hash`, and time until the first `selector` row is painted. */
function routeTime(page: Page, hash: string, selector: string): Promise<number> {
  return page.evaluate(
    ([h, s]) =>
      new Promise<number>((resolve, reject) => {
        const w = globalThis as unknown as InPage;
        const t0 = w.performance.now();
        const give = w.setTimeout(() => reject(new Error(`no ${s} after 60 s`)), 60_000);
        const check = (): void => {
          if (w.document.querySelector(s))
            w.requestAnimationFrame(() => {
              w.clearTimeout(give);
              resolve(w.performance.now() - t0);
            });
          else w.requestAnimationFrame(check);
        };
        w.location.hash = h;
        check();
      }),
    [hash, selector] as const,
  );
}

async function apiTime(url: string, token: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body.slice(0, 200)}`);
  return { ms, bytes: body.length };
}

export async function consoleScale(options: { runs: number; loads: number }): Promise<ConsoleScaleFigures> {
  prepareConsole();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-console-scale-'));
  let server: ParleyProcess | undefined;
  const browser = await launchBrowser();
  try {
    log(`seeding ${options.runs} runs into ${dataDir}`);
    const seed = await seedRuns(dataDir, options.runs);
    log(`seeded in ${seed.seconds.toFixed(1)} s, ${seed.open} open requests`);
    const t0 = performance.now();
    // 100,000 runs take the projection some seconds to catch up; more on a loaded machine
    server = await ParleyProcess.start({ dataDir, startTimeoutMs: 180_000 });
    const serverReadySeconds = (performance.now() - t0) / 1000;
    log(`server ready in ${serverReadySeconds.toFixed(1)} s`);

    const token = TEST_USERS.alice.token;
    const apiRequests: number[] = [];
    const apiRuns: number[] = [];
    let apiRequestsBytes = 0;
    for (let i = 0; i < options.loads + 1; i++) {
      const r = await apiTime(`${server.url}/api/requests?status=open&limit=50`, token);
      const l = await apiTime(`${server.url}/api/runs?limit=50`, token);
      apiRequestsBytes = r.bytes;
      if (i === 0) continue; // the first of each warms the server up
      apiRequests.push(r.ms);
      apiRuns.push(l.ms);
    }

    const { context, page } = await signIn(browser, server, 'alice');
    await context.addInitScript({ content: FIRST_ROW_PROBE });
    const inboxLoad: number[] = [];
    const runsLoad: number[] = [];
    const inboxRoute: number[] = [];
    const runsRoute: number[] = [];
    for (let i = 0; i < options.loads + 1; i++) {
      const inbox = await loadTime(page, `${server.url}/console/#/inbox`, '.inbox-row');
      const toRuns = await routeTime(page, '#/runs', 'table.runs tbody tr');
      const runs = await loadTime(page, `${server.url}/console/#/runs`, 'table.runs tbody tr');
      const toInbox = await routeTime(page, '#/inbox', '.inbox-row');
      if (i === 0) continue; // the first load warms the browser's cache
      inboxLoad.push(inbox);
      runsLoad.push(runs);
      runsRoute.push(toRuns);
      inboxRoute.push(toInbox);
    }
    const inboxRows = await page.locator('.inbox-row').count();
    const inboxMore = (await page.getByTestId('inbox-more').textContent()) ?? '';
    await context.close();
    return {
      runs: options.runs,
      openRequests: seed.open,
      seedSeconds: Math.round(seed.seconds * 10) / 10,
      seedRunsPerSecond: Math.round(options.runs / seed.seconds),
      serverReadySeconds: Math.round(serverReadySeconds * 10) / 10,
      inboxRouteMs: summarize(inboxRoute),
      runsRouteMs: summarize(runsRoute),
      inboxLoadMs: summarize(inboxLoad),
      runsLoadMs: summarize(runsLoad),
      inboxRows,
      inboxMore,
      apiRequestsMs: summarize(apiRequests),
      apiRunsMs: summarize(apiRuns),
      apiRequestsBytes,
    };
  } finally {
    await browser.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
