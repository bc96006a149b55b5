#!/usr/bin/env node
// The whole test suite: build, start a real Kafka broker when KAFKA_BROKERS is unset, run every
// test file with Node's test runner, print `N passed, N failed`, stop the broker.
//
//   npm test                      everything
//   npm test -- unit              only files whose path contains "unit" (any substring filter)
//   npm run test:chaos            the chaos suite (*.chaos-spec.ts): long crash and fault runs
//   npm run test:load             the load suite (*.load-spec.ts): load and soak, with figures
//
// A test file still running after PARLEY_TEST_FILE_TIMEOUT_MS (default 15 minutes; 2 hours in the
// chaos and load suites) is killed and counted as failed, so one hung file cannot hold CI until
// its own limit.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const suite = args.find((a) => a.startsWith('--suite='))?.slice('--suite='.length) ?? 'default';
const filters = args.filter((a) => !a.startsWith('--suite='));
const SUITES = {
  default: /\.(unit|int)\.spec\.js$|\.e2e-spec\.js$/,
  chaos: /\.chaos-spec\.js$/,
  load: /\.load-spec\.js$/,
};
if (!SUITES[suite]) {
  console.error(`unknown suite ${suite}: one of ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}
const log = (line) => process.stderr.write(`[test] ${line}\n`);

log('building (tsc -b)');
const build = spawnSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// docs/openapi.json from the route table (a test checks the served document equals it).
spawnSync(process.execPath, ['scripts/write-openapi.mjs'], { cwd: root, stdio: 'inherit' });

// The console's browser tests need the built console and Debian's chromium (installed with apt-get
// when missing; never a browser download). Both steps are quick when there is nothing to do.
if (
  spawnSync(process.execPath, ['scripts/build-console.mjs'], { cwd: root, stdio: 'inherit' }).status !== 0
) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const files = findTests(join(root, 'dist')).filter(
  (f) => filters.length === 0 || filters.some((x) => f.includes(x)),
);
if (files.length === 0) {
  log(`no test files match ${filters.join(' ')}`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}

if (files.some((f) => f.includes(join('e2e', 'observability')))) {
  spawnSync(process.execPath, ['scripts/ensure-prometheus.mjs'], { cwd: root, stdio: 'inherit' });
}
if (files.some((f) => f.includes(`${join('e2e', 'console')}`))) {
  spawnSync(process.execPath, ['scripts/ensure-chromium.mjs'], { cwd: root, stdio: 'inherit' });
}

let broker;
const env = {
  ...process.env,
  NODE_OPTIONS:
    `${process.env.NODE_OPTIONS ?? ''} --require ${join(root, 'bin/register-paths.js')} --enable-source-maps`.trim(),
};
if (!process.env.KAFKA_BROKERS) {
  const { startBroker } = await import('./kafka/broker.mjs');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-kafka-test-'));
  log('starting a single-node Kafka broker for the tests (KAFKA_BROKERS is unset)');
  broker = await startBroker({ dataDir, log });
  env.KAFKA_BROKERS = broker.brokers;
  broker.dataDir = dataDir;
  log(`Kafka broker ready at ${broker.brokers}`);
}

const tapFile = join(mkdtempSync(join(tmpdir(), 'parley-tap-')), 'report.tap');
const code = await new Promise((resolve) => {
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...files.map((f) => relative(root, f)),
    ],
    { cwd: root, env, stdio: 'inherit' },
  );
  const watchdog = setInterval(() => killOverdueFiles(child.pid), 15_000);
  child.on('exit', (c, signal) => {
    clearInterval(watchdog);
    resolve(c ?? (signal ? 1 : 0));
  });
});

if (broker) {
  await broker.stop();
  rmSync(broker.dataDir, { recursive: true, force: true });
}

const tap = readFileSync(tapFile, 'utf8');
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
console.log(`${passed} passed, ${failed} failed`);
process.exit(code !== 0 || failed > 0 ? 1 : 0);

/**
 * A test file that hangs (a hook waiting forever, a handle that keeps its process alive) would hold
 * the whole run until CI's own limit. Node's runner runs each file in a child process: one older
 * than PARLEY_TEST_FILE_TIMEOUT_MS (default 15 minutes) is killed, and the runner reports the file
 * as failed.
 */
function killOverdueFiles(runnerPid) {
  const limitMs = Number(
    process.env.PARLEY_TEST_FILE_TIMEOUT_MS ?? (suite === 'default' ? 15 : 120) * 60_000,
  );
  const ticksPerSecond = 100; // Linux USER_HZ
  let uptimeS;
  try {
    uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return; // not Linux: no watchdog
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== runnerPid) continue; // ppid
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const file = cmdline.find((a) => a.endsWith('.js') && a.includes(join('dist', 'test')));
      if (!file) continue;
      const ageMs = (uptimeS - Number(fields[19]) / ticksPerSecond) * 1000;
      if (ageMs <= limitMs) continue;
      log(
        `${relative(root, file)} still running after ${Math.round(ageMs / 1000)} s: killed (PARLEY_TEST_FILE_TIMEOUT_MS=${limitMs})`,
      );
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // the process ended while we looked
    }
  }
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (SUITES[suite].test(name)) out.push(full);
  }
  return out.sort();
}
