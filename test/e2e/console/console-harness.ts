import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ParleyProcess, REPO_ROOT, TEST_USERS, type TestUser } from '@parley/testing';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'console');

/** Build the console (skipped when up to date) and make sure Debian's Chromium is installed. */
export function prepareConsole(): void {
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console.mjs')], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('the console build failed (node scripts/build-console.mjs)');
  if (!existsSync(CHROMIUM)) {
    const ensure = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'ensure-chromium.mjs')], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    if (ensure.status !== 0) throw new Error(`Chromium is missing at ${CHROMIUM} and could not be installed`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (its own sessionStorage) signed in as `user`, on the console. */
export async function signIn(
  browser: Browser,
  server: ParleyProcess,
  user: TestUser,
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${server.url}/console/`);
  await page.getByLabel('Token').fill(TEST_USERS[user].token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${TEST_USERS[user].id}`).waitFor();
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A screenshot the docs show (docs/<name>.png): written there only with UPDATE_SCREENSHOTS=1, so a
 * test run does not change committed files; otherwise beside the others in test-results/console.
 */
export async function docScreenshot(page: Page, name: string): Promise<string> {
  const path =
    process.env.UPDATE_SCREENSHOTS === '1'
      ? join(REPO_ROOT, 'docs', `${name}.png`)
      : join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Records every text the streaming bubble showed (installed before the page loads). */
export const RECORD_STREAMING = `
  window.__streamed = [];
  const watch = () => {
    const el = document.querySelector('[data-testid="streaming"] .text');
    const text = el && el.textContent;
    if (text && window.__streamed[window.__streamed.length - 1] !== text) window.__streamed.push(text);
  };
  new MutationObserver(watch).observe(document, { subtree: true, childList: true, characterData: true });
`;
