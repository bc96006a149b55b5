#!/usr/bin/env node
// The metrics test (test/e2e/observability) scrapes a real Parley server with Debian's Prometheus.
// Install it with apt-get when /usr/bin/prometheus is missing (as root, or with sudo), the way
// ensure-chromium.mjs brings the browser. Exit code 0 when Prometheus is there afterwards.
//
//   node scripts/ensure-prometheus.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const log = (line) => process.stderr.write(`[prometheus] ${line}\n`);

export function ensurePrometheus() {
  if (existsSync(PROMETHEUS)) return true;
  log(`${PROMETHEUS} is missing: installing Debian's prometheus with apt-get`);
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
  // --no-install-recommends: the server alone (no node exporter); the package's service is never
  // used: the test starts its own Prometheus on a free port with its own config and data folder.
  if (!run(['apt-get', 'install', '-y', '--no-install-recommends', 'prometheus']))
    log('apt-get install prometheus failed');
  if (!existsSync(PROMETHEUS)) {
    log(
      `could not install Prometheus: ${PROMETHEUS} is still missing (install it: apt-get install -y prometheus)`,
    );
    return false;
  }
  return true;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exit(ensurePrometheus() ? 0 : 1);
}
