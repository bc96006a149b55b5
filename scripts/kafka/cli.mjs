#!/usr/bin/env node
// A long-running development broker:
//   npm run kafka:start    (node scripts/kafka/cli.mjs start)   port: KAFKA_PORT (default 9092)
//   npm run kafka:stop     (node scripts/kafka/cli.mjs stop)
//   node scripts/kafka/cli.mjs status                            exit 0 running, 1 not running
// Data (topics survive restarts): .cache/kafka/dev-data; broker log: .cache/kafka/dev-data/logs/server.log
// State: .cache/kafka/dev-broker.json { pid, brokers, dataDir, ... }

import fs from 'node:fs';
import path from 'node:path';
import { KAFKA_CACHE_DIR, KAFKA_VERSION, isAlive, isPortOpen, startBroker, stopPid } from './broker.mjs';

const STATE_FILE = path.join(KAFKA_CACHE_DIR, 'dev-broker.json');
const DATA_DIR = path.join(KAFKA_CACHE_DIR, 'dev-data');

function readState() {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return null;
  }
}

/** The state's pid is alive and really is a Kafka broker (not a recycled pid). */
function isOurBroker(state) {
  if (!state?.pid || !isAlive(state.pid)) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${state.pid}/cmdline`, 'utf8');
    return cmd.includes('kafka.Kafka');
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

function parsePort(name, fallback) {
  const raw = process.env[name];
  if (raw == null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    console.error(`${name}=${raw} is not a valid port`);
    process.exit(2);
  }
  return n;
}

function usage(brokers) {
  console.log(`KAFKA_BROKERS=${brokers}`);
  console.log('');
  console.log(
    `Kafka ${readState()?.version ?? KAFKA_VERSION} is running in the background (single node, KRaft).`,
  );
  console.log(`  use it:   export KAFKA_BROKERS=${brokers}`);
  console.log(`  log:      ${path.relative(process.cwd(), path.join(DATA_DIR, 'logs', 'server.log'))}`);
  console.log('  status:   node scripts/kafka/cli.mjs status');
  console.log(
    '  stop:     npm run kafka:stop   (topics are kept in .cache/kafka/dev-data; delete it to start empty)',
  );
}

async function start() {
  const state = readState();
  if (isOurBroker(state)) {
    console.log(`Kafka is already running (pid ${state.pid}).`);
    usage(state.brokers);
    return 0;
  }
  if (state) fs.rmSync(STATE_FILE, { force: true }); // stale
  const port = parsePort('KAFKA_PORT', 9092);
  const controllerPort = parsePort('KAFKA_CONTROLLER_PORT', undefined);
  if (await isPortOpen(port)) {
    console.error(
      `Port 127.0.0.1:${port} is already in use (another Kafka?). Stop it, or choose another: KAFKA_PORT=19092 npm run kafka:start`,
    );
    return 1;
  }
  const broker = await startBroker({ port, controllerPort, dataDir: DATA_DIR, detached: true });
  fs.writeFileSync(
    STATE_FILE,
    JSON.stringify(
      {
        pid: broker.pid,
        brokers: broker.brokers,
        dataDir: broker.dataDir,
        port: broker.port,
        controllerPort: broker.controllerPort,
        version: KAFKA_VERSION,
        logFile: broker.logFile,
        startedAt: new Date().toISOString(),
      },
      null,
      2,
    ) + '\n',
  );
  usage(broker.brokers);
  return 0;
}

async function stop() {
  const state = readState();
  if (!state) {
    console.log('Kafka is not running (no .cache/kafka/dev-broker.json).');
    return 0;
  }
  if (!isOurBroker(state)) {
    fs.rmSync(STATE_FILE, { force: true });
    console.log(`Kafka is not running (pid ${state.pid} is gone); removed the stale state file.`);
    return 0;
  }
  const t0 = Date.now();
  process.stderr.write(`[kafka] stopping broker pid ${state.pid} (${state.brokers})...\n`);
  await stopPid(state.pid, { timeoutMs: 15_000 });
  fs.rmSync(STATE_FILE, { force: true });
  console.log(
    `Kafka stopped (pid ${state.pid}, ${((Date.now() - t0) / 1000).toFixed(1)} s). Data kept in ${state.dataDir}.`,
  );
  return 0;
}

async function status() {
  const state = readState();
  if (isOurBroker(state)) {
    const answering = await isPortOpen(state.port ?? Number(state.brokers.split(':').pop()));
    console.log(
      `Kafka ${state.version ?? ''} is running: pid ${state.pid}, KAFKA_BROKERS=${state.brokers}` +
        `${answering ? '' : ' (but its port does not accept connections!)'}, data ${state.dataDir}, since ${state.startedAt}`,
    );
    return answering ? 0 : 1;
  }
  console.log(`Kafka is not running${state ? ` (stale state file: pid ${state.pid} is gone)` : ''}.`);
  return 1;
}

const cmd = process.argv[2];
const commands = { start, stop, status };
if (!commands[cmd]) {
  console.error('usage: node scripts/kafka/cli.mjs start|stop|status');
  process.exit(2);
}
try {
  process.exit(await commands[cmd]());
} catch (err) {
  console.error(`kafka ${cmd} failed: ${err.message}`);
  process.exit(1);
}
