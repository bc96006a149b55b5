#!/usr/bin/env node
// The browser tests (test/e2e/console) drive Debian's Chromium with playwright-core; they never
// download a browser. Install it with apt-get when /usr/bin/chromium is missing (as root, or with
// sudo). Exit code 0 when Chromium is there afterwards.
//
//   node scripts/ensure-chromium.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const log = (line) => process.stderr.write(`[chromium] ${line}\n`);

export function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  log(`${CHROMIUM} is missing: installing Debian's chromium with apt-get`);
  const sudo = typeof process.getuid === 'function' && process.getuid() !== 0 ? ['sudo'] : [];
  const run = (args) => {
    const [cmd, ...rest] = [...sudo, ...args];
    const result = spawnSync(cmd, rest, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return result.status === 0;
  };
  if (!run(['apt-get', 'update'])) log('apt-get update failed');
  if (!run(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']))
    log('apt-get install chromium failed');
  if (!existsSync(CHROMIUM)) {
    log(`could not install Chromium: ${CHROMIUM} is still missing (install it: apt-get install -y chromium)`);
    return false;
  }
  return true;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exit(ensureChromium() ? 0 : 1);
}
