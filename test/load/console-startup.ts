/**
 * The console's own start, taken apart: open `/console/#/runs` afresh in Chromium (signed in, the
 * browser's cache warm, as an operator reopening the tab) and read, from the page's Navigation and
 * Resource Timing entries, when the document, the bundle, `GET /api/me`, the first `GET /api/runs`
 * and the socket started and ended, when the app first drew anything, and when the first row of the
 * list was painted. All times are ms since navigation start. Also the same page reloaded (F5).
 */
import type { Page } from 'playwright-core';
import { summarize, type Summary } from './load-kit';

/** One page load of the runs list, ms since navigation start. */
export interface StartupSample {
  /** The document's response ended. */
  document: number;
  /** The bundle's script: request started, response ended; bytes over the wire (0: from the cache). */
  scriptStart: number;
  scriptEnd: number;
  scriptTransferBytes: number;
  /** DOMContentLoaded ended: the (deferred) module script has run. */
  domContentLoaded: number;
  /** The app's root got its first child (the first React commit). */
  firstRender: number;
  /** `GET /api/me`: started, ended (NaN when not asked). */
  meStart: number;
  meEnd: number;
  /** The first `GET /api/runs`: started, ended. */
  runsStart: number;
  runsEnd: number;
  /** The frame after the first row of the runs table is in the DOM. */
  firstRow: number;
}

export interface StartupFigures {
  loads: number;
  /** Median of each field over the loads. */
  median: Record<keyof StartupSample, number>;
  firstRowMs: Summary;
  /** The same page reloaded (F5: same origin, the renderer kept), navigation start to the first row. */
  reloadFirstRowMs: Summary;
  /** Every JS and CSS file of the console the first (cold) load fetched: path, bytes on the wire, bytes decoded. */
  assets: Array<{ path: string; transferBytes: number; decodedBytes: number }>;
}

/**
 * Installed before the console loads (browser code, as text: this project's TypeScript has no DOM
 * types): the time the root first gets a child and the frame after the first run row appears.
 */
export const STARTUP_PROBE = `
  window.__startup = {};
  const observer = new MutationObserver(() => {
    const s = window.__startup;
    if (s.firstRender === undefined) {
      const root = document.getElementById('root');
      if (root && root.firstChild) s.firstRender = performance.now();
    }
    if (s.firstRow === undefined && document.querySelector('table.runs tbody tr')) {
      s.firstRow = -1;
      requestAnimationFrame(() => (s.firstRow = performance.now()));
    }
  });
  document.addEventListener('DOMContentLoaded', () =>
    observer.observe(document.body, { childList: true, subtree: true }),
  );
`;

interface Entry {
  name: string;
  startTime: number;
  responseEnd: number;
  transferSize: number;
  encodedBodySize: number;
  decodedBodySize: number;
}

/** Read in the page after the first row: the probe's times and the timing entries. */
interface Sampled {
  probe: Record<string, number>;
  nav: Entry & { domContentLoadedEventEnd: number };
  resources: Entry[];
}

async function sample(page: Page): Promise<Sampled> {
  await page.waitForFunction(() => ((globalThis as any).__startup?.firstRow ?? -1) > 0, undefined, {
    timeout: 60_000,
  });
  return page.evaluate((): Sampled => {
    const w = globalThis as any;
    const pick = (e: any) => ({
      name: String(e.name),
      startTime: e.startTime,
      responseEnd: e.responseEnd,
      transferSize: e.transferSize,
      encodedBodySize: e.encodedBodySize,
      decodedBodySize: e.decodedBodySize,
    });
    const nav = w.performance.getEntriesByType('navigation')[0];
    return {
      probe: { ...w.__startup },
      nav: { ...pick(nav), domContentLoadedEventEnd: nav.domContentLoadedEventEnd },
      resources: w.performance.getEntriesByType('resource').map(pick),
    };
  });
}

function toSample(s: Sampled): StartupSample {
  const find = (test: (path: string) => boolean): Entry | undefined =>
    s.resources.find((r) => test(new URL(r.name).pathname + new URL(r.name).search));
  const script = find((p) => /^\/console\/assets\/index-[^/]+\.js$/.test(p));
  const me = find((p) => p === '/api/me');
  const runs = find((p) => p.startsWith('/api/runs?'));
  return {
    document: s.nav.responseEnd,
    scriptStart: script?.startTime ?? NaN,
    scriptEnd: script?.responseEnd ?? NaN,
    scriptTransferBytes: script?.transferSize ?? NaN,
    domContentLoaded: s.nav.domContentLoadedEventEnd,
    firstRender: s.probe.firstRender ?? NaN,
    meStart: me?.startTime ?? NaN,
    meEnd: me?.responseEnd ?? NaN,
    runsStart: runs?.startTime ?? NaN,
    runsEnd: runs?.responseEnd ?? NaN,
    firstRow: s.probe.firstRow,
  };
}

const median = (xs: number[]): number => {
  const ok = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return ok.length ? Math.round(ok[Math.floor((ok.length - 1) / 2)] * 10) / 10 : NaN;
};

/**
 * `page` is signed in (its session holds the token) and has STARTUP_PROBE installed as an init
 * script. One cold load (its assets listed), then `loads` warm ones measured.
 */
export async function consoleStartup(page: Page, url: string, loads: number): Promise<StartupFigures> {
  const samples: StartupSample[] = [];
  let assets: StartupFigures['assets'] = [];
  for (let i = 0; i < loads + 1; i++) {
    await page.goto('about:blank');
    await page.goto(`${url}/console/#/runs`);
    const s = await sample(page);
    if (i === 0) {
      assets = s.resources
        .filter((r) => /\/console\/assets\/.*\.(js|css)$/.test(new URL(r.name).pathname))
        .map((r) => ({
          path: new URL(r.name).pathname,
          transferBytes: r.transferSize,
          decodedBytes: r.decodedBodySize,
        }));
      continue; // the first load fills the browser's cache
    }
    samples.push(toSample(s));
  }
  const reloads: number[] = [];
  for (let i = 0; i < loads; i++) {
    await page.reload();
    reloads.push((await sample(page)).probe.firstRow!);
  }
  const keys = Object.keys(samples[0]!) as Array<keyof StartupSample>;
  return {
    loads,
    median: Object.fromEntries(keys.map((k) => [k, median(samples.map((s) => s[k]))])) as Record<
      keyof StartupSample,
      number
    >,
    firstRowMs: summarize(samples.map((s) => s.firstRow)),
    reloadFirstRowMs: summarize(reloads),
    assets,
  };
}
