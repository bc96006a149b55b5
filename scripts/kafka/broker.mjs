// Provision and run a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
// from Maven Central jars. No tarball, no Docker. Plain Node ESM: Node built-ins + kafkajs.
//
//   import { startBroker } from './scripts/kafka/broker.mjs';
//   const broker = await startBroker();            // free loopback ports, temp data dir
//   // ... new Kafka({ brokers: [broker.brokers] }) ...
//   await broker.stop();
//
// See docs/KAFKA.md for the version choice and the evidence behind it.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Repository root (two levels above scripts/kafka). */
export const REPO_ROOT = path.resolve(HERE, '..', '..');
/** Git-ignored cache folder: `<repo>/.cache/kafka`. */
export const KAFKA_CACHE_DIR = path.join(REPO_ROOT, '.cache', 'kafka');
/** Kafka version used unless `PARLEY_KAFKA_VERSION` says otherwise (see docs/KAFKA.md). */
export const KAFKA_VERSION = process.env.PARLEY_KAFKA_VERSION || '4.4.0';
/** A fixed, valid KRaft cluster id (22 chars of URL-safe base64 of 16 bytes). */
export const DEFAULT_CLUSTER_ID = 'UGFybGV5VGVzdENsdXN0ZQ';

const POM = path.join(HERE, 'pom.xml');
const MARKER = '.complete.json';

/** Default logger: progress to stderr, never stdout. */
function defaultLog(msg) {
  process.stderr.write(`[kafka] ${msg}\n`);
}

function majorOf(version) {
  return Number.parseInt(String(version).split('.')[0], 10);
}

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function readMarker(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
  } catch {
    return null;
  }
}

function markerIsValid(libsDir, marker, pomHash) {
  if (!marker || marker.pomSha256 !== pomHash || !Array.isArray(marker.jars)) return false;
  return marker.jars.length > 0 && marker.jars.every((j) => fs.existsSync(path.join(libsDir, j)));
}

/**
 * Make sure the Kafka broker's runtime class path is in `<repo>/.cache/kafka/<version>/libs`.
 * Downloads it once with Maven (`dependency:copy-dependencies`); a marker file written after a
 * complete download makes later calls instant. An interrupted download leaves no marker, so it is
 * redone. Changing scripts/kafka/pom.xml invalidates the cache (its hash is in the marker).
 *
 * @param {{ log?: (msg: string) => void, version?: string }} [opts]
 * @returns {Promise<string>} absolute path of the libs dir (use `<libs>/*` as class path)
 */
export async function ensureKafkaJars({ log = defaultLog, version = KAFKA_VERSION } = {}) {
  const versionDir = path.join(KAFKA_CACHE_DIR, version);
  const libsDir = path.join(versionDir, 'libs');
  const pomHash = sha256(POM);
  if (markerIsValid(libsDir, readMarker(libsDir), pomHash)) return libsDir;

  fs.mkdirSync(versionDir, { recursive: true });
  // Leftovers of interrupted downloads (their process is gone) are never trusted: remove them.
  for (const f of fs.readdirSync(versionDir)) {
    const m = /^libs\.tmp-(\d+)-/.exec(f);
    if (m && !isAlive(Number(m[1]))) fs.rmSync(path.join(versionDir, f), { recursive: true, force: true });
  }
  const tmpDir = path.join(versionDir, `libs.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });

  const args = [
    '-q',
    '-B',
    '-f',
    POM,
    `-Dkafka.version=${version}`,
    ...(majorOf(version) < 4 ? ['-Dkafka.logging=reload4j'] : []),
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${tmpDir}`,
  ];
  log(
    `downloading Apache Kafka ${version} jars from Maven Central into ${libsDir} (first time only; ~50 MB)`,
  );
  const started = Date.now();
  const ticker = setInterval(() => {
    log(
      `  still downloading (mvn dependency:copy-dependencies)... ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }, 10_000);
  let result;
  try {
    result = await new Promise((resolve, reject) => {
      const child = spawn('mvn', args, { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', (err) =>
        reject(new Error(`could not run mvn (is Maven installed and on PATH?): ${err.message}`)),
      );
      child.on('close', (code, signal) => resolve({ code, signal, out }));
    });
  } finally {
    clearInterval(ticker);
  }
  if (result.code !== 0) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(
      `mvn ${args.join(' ')} failed (exit ${result.code ?? result.signal}):\n${result.out.slice(-4000)}`,
    );
  }
  const jars = fs
    .readdirSync(tmpDir)
    .filter((f) => f.endsWith('.jar'))
    .sort();
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${version}`))) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`mvn finished but kafka_2.13-${version}.jar is missing from ${tmpDir}`);
  }
  fs.writeFileSync(
    path.join(tmpDir, MARKER),
    JSON.stringify({ version, pomSha256: pomHash, jars, downloadedAt: new Date().toISOString() }, null, 2),
  );
  // Swap into place. Another process may have finished the same download meanwhile: then keep its copy.
  if (markerIsValid(libsDir, readMarker(libsDir), pomHash)) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  } else {
    fs.rmSync(libsDir, { recursive: true, force: true });
    fs.renameSync(tmpDir, libsDir);
  }
  const mb = jars.reduce((s, j) => s + fs.statSync(path.join(libsDir, j)).size, 0) / 1e6;
  log(
    `downloaded ${jars.length} jars (${mb.toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return libsDir;
}

/** Find a free TCP port on 127.0.0.1 by binding port 0. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (v) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** True if a process with this pid exists. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Last `maxBytes` of a text file ('' if absent). */
export function tailFile(file, maxBytes = 6000) {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function serverProperties({ port, controllerPort, logDirs, version, autoCreateTopics, extraProperties }) {
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': logDirs,
    // Single node: every internal topic must get by with one replica.
    'num.partitions': '3',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '10', // default 50: slow first group join on a test broker
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '10',
    // Topics are created explicitly (as in production); a typo'd topic fails instead of appearing.
    'auto.create.topics.enable': String(autoCreateTopics),
    // Tests: no 3 s wait before the first rebalance of a new group.
    'group.initial.rebalance.delay.ms': '0',
    // Small footprint and a fast start/stop.
    'num.network.threads': '2',
    'num.io.threads': '4',
    'num.recovery.threads.per.data.dir': '1',
    'background.threads': '4',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(16 * 1024 * 1024), // default 128 MiB of heap
    'controlled.shutdown.enable': 'true',
    'log.flush.offset.checkpoint.interval.ms': '5000',
    'delete.topic.enable': 'true',
  };
  if (majorOf(version) >= 4) {
    props['share.coordinator.state.topic.replication.factor'] = '1';
    props['share.coordinator.state.topic.min.isr'] = '1';
  }
  Object.assign(props, extraProperties);
  return (
    '# Written by scripts/kafka/broker.mjs: a single-node KRaft broker for development and tests.\n' +
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') +
    '\n'
  );
}

function brokerLogConfig(version, logsDir) {
  const file = path.join(logsDir, 'server.log');
  if (majorOf(version) >= 4) {
    return [
      'status = warn',
      'name = parley-kafka-broker',
      // Kafka logs its own shutdown from a JVM shutdown hook; log4j's hook would close the files first.
      'shutdownHook = disable',
      'appender.server.type = RollingFile',
      'appender.server.name = server',
      `appender.server.fileName = ${file}`,
      `appender.server.filePattern = ${file}.%i`,
      'appender.server.layout.type = PatternLayout',
      'appender.server.layout.pattern = [%d] %p %m (%c)%n',
      'appender.server.policies.type = Policies',
      'appender.server.policies.size.type = SizeBasedTriggeringPolicy',
      'appender.server.policies.size.size = 20MB',
      'appender.server.strategy.type = DefaultRolloverStrategy',
      'appender.server.strategy.max = 3',
      'rootLogger.level = info',
      'rootLogger.appenderRef.server.ref = server',
      'logger.statechange.name = state.change.logger',
      'logger.statechange.level = warn',
      'logger.request.name = kafka.request.logger',
      'logger.request.level = warn',
      '',
    ].join('\n');
  }
  return [
    'log4j.rootLogger=INFO, server',
    'log4j.appender.server=org.apache.log4j.RollingFileAppender',
    `log4j.appender.server.File=${file}`,
    'log4j.appender.server.MaxFileSize=20MB',
    'log4j.appender.server.MaxBackupIndex=3',
    'log4j.appender.server.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    '',
  ].join('\n');
}

function toolsLogConfig(version) {
  if (majorOf(version) >= 4) {
    return [
      'status = error',
      'name = parley-kafka-tools',
      'appender.stderr.type = Console',
      'appender.stderr.name = stderr',
      'appender.stderr.target = SYSTEM_ERR',
      'appender.stderr.layout.type = PatternLayout',
      'appender.stderr.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = warn',
      'rootLogger.appenderRef.stderr.ref = stderr',
      '',
    ].join('\n');
  }
  return [
    'log4j.rootLogger=WARN, stderr',
    'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stderr.Target=System.err',
    'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
    '',
  ].join('\n');
}

function logConfigFlag(version, file) {
  return majorOf(version) >= 4 ? `-Dlog4j2.configurationFile=${file}` : `-Dlog4j.configuration=file:${file}`;
}

// ---- cleanup of in-process brokers when the parent goes away ----------------------------------
const liveBrokers = new Map(); // pid -> { dataDir, removeDataDir }
let handlersInstalled = false;

function killAllNow() {
  for (const [pid, b] of liveBrokers) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    // The watchdog (see below) escalates to SIGKILL and removes a temporary data dir.
    void b;
  }
}

function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAllNow();
      // Keep the default behaviour (exit by that signal) unless somebody else handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/**
 * A tiny `sh` watchdog: if the parent Node process disappears (even by SIGKILL, where no exit
 * handler runs), it stops the broker (SIGTERM, then SIGKILL after 15 s) and removes a temporary
 * data dir. It exits by itself when the broker exits.
 */
function spawnWatchdog({ parentPid, brokerPid, removeDir }) {
  const script = `
p=${parentPid}; b=${brokerPid}; d='${removeDir ? removeDir.replace(/'/g, `'\\''`) : ''}'
while kill -0 "$b" 2>/dev/null; do
  if ! kill -0 "$p" 2>/dev/null; then
    kill -TERM "$b" 2>/dev/null
    i=0; while kill -0 "$b" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$b" 2>/dev/null
    [ -n "$d" ] && sleep 0.5 && rm -rf "$d"
    exit 0
  fi
  sleep 1
done`;
  const wd = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  wd.unref();
  return wd;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Create topics and wait until every partition has a leader, with kafkajs.
 *
 * Use this instead of `admin.createTopics({ waitForLeaders: true })`: on a KRaft broker the metadata
 * of a just-created topic can briefly answer UNKNOWN_TOPIC_OR_PARTITION ("This server does not host
 * this topic-partition"), which kafkajs 2.2.4's waitForLeaders does not retry (it only retries
 * LEADER_NOT_AVAILABLE), so createTopics throws although the topic was created (kafkajs issue #815;
 * seen here with Kafka 4.4.0). Existing topics are fine (kafkajs returns false for them).
 *
 * @param {import('kafkajs').Admin} admin  a connected kafkajs admin
 * @param {import('kafkajs').ITopicConfig[]} topics
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {Promise<boolean>} false if every topic already existed (like kafkajs)
 */
export async function createTopicsAndWait(admin, topics, { timeoutMs = 30_000 } = {}) {
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const want = new Map(topics.map((t) => [t.topic, t.numPartitions > 0 ? t.numPartitions : null]));
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  while (Date.now() < deadline) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [...want.keys()] });
      const ready = md.topics.every(
        (t) =>
          t.partitions.length > 0 &&
          (want.get(t.name) == null || t.partitions.length === want.get(t.name)) &&
          t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0),
      );
      if (ready && md.topics.length === want.size) return created;
      lastErr = new Error('partitions without a leader yet');
    } catch (err) {
      lastErr = err; // UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE while metadata propagates
    }
    await sleep(100);
  }
  throw new Error(
    `topics ${[...want.keys()].join(', ')} have no leaders after ${timeoutMs} ms: ${lastErr?.message}`,
  );
}

/**
 * A fresh broker creates __consumer_offsets and __transaction_state lazily, on the first group
 * lookup and the first InitProducerId; until they are loaded, clients get COORDINATOR_LOAD_IN_PROGRESS
 * and kafkajs consumers "crash" and restart (noisy, slower first test). Trigger both now, once.
 */
async function warmUpCoordinators({ Kafka, logLevel, brokers, topic, deadline }) {
  const kafka = new Kafka({
    clientId: 'parley-kafka-warmup',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  const admin = kafka.admin();
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'warm-up' }] });
    await admin.connect();
    while (Date.now() < deadline) {
      // FindCoordinator(GROUP) creates __consumer_offsets; fetchOffsets succeeds once it is loaded.
      try {
        await admin.fetchOffsets({ groupId: '__parley_warmup', topics: [topic] });
        return;
      } catch {
        await sleep(100);
      }
    }
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Poll until the broker at `brokers` answers: describeCluster, then create and delete a throwaway
 * topic (proves the controller, metadata propagation and log dirs all work).
 */
export async function waitForBroker({
  brokers,
  timeoutMs = 60_000,
  isDead = () => null,
  log = defaultLog,
  warmUp = true,
}) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'parley-kafka-ready-check',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  let lastErr = null;
  let attempt = 0;
  while (Date.now() < deadline) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    attempt++;
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (!cluster.brokers?.length || cluster.controller == null) throw new Error('no controller yet');
      const topic = `__parley_ready_${randomBytes(4).toString('hex')}`;
      await createTopicsAndWait(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }], {
        timeoutMs: 10_000,
      });
      const answeredMs = Date.now() - t0;
      if (warmUp) await warmUpCoordinators({ Kafka, logLevel, brokers, topic, deadline });
      await admin.deleteTopics({ topics: [topic], timeout: 5000 });
      return {
        clusterId: cluster.clusterId,
        attempts: attempt,
        answeredMs,
        warmUpMs: Date.now() - t0 - answeredMs,
      };
    } catch (err) {
      lastErr = err;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    if (attempt % 20 === 0) log(`waiting for broker ${brokers} (${lastErr?.message ?? '...'})`);
    await sleep(250);
  }
  throw new Error(
    `broker ${brokers} not ready after ${timeoutMs} ms: ${lastErr?.message ?? 'unknown error'}`,
  );
}

/**
 * Format storage (if the data dir is new) and start a single-node KRaft Kafka broker as a child
 * process, then wait until it really serves requests.
 *
 * @param {object} [opts]
 * @param {number} [opts.port]            client (PLAINTEXT) port on 127.0.0.1; a free one if omitted
 * @param {number} [opts.controllerPort]  KRaft controller port on 127.0.0.1; a free one if omitted
 * @param {string} [opts.dataDir]         configs, logs/ and kraft data; a fresh temp dir (removed on stop) if omitted
 * @param {(msg: string) => void} [opts.log]  progress lines (default: stderr)
 * @param {string} [opts.version]         Kafka version (default KAFKA_VERSION)
 * @param {string} [opts.clusterId]       KRaft cluster id (default DEFAULT_CLUSTER_ID)
 * @param {boolean} [opts.autoCreateTopics=false]
 * @param {Record<string,string>} [opts.extraProperties]  extra/overriding server.properties
 * @param {boolean} [opts.detached=false] outlive this process (used by cli.mjs): no exit handlers, no watchdog
 * @param {number} [opts.readyTimeoutMs=60000]
 * @param {string} [opts.heap='-Xms256m -Xmx768m']
 * @returns {Promise<{ brokers: string, pid: number, port: number, controllerPort: number,
 *   dataDir: string, logFile: string, clusterId: string, stop: () => Promise<void>,
 *   kill: () => Promise<void>, restart: () => Promise<object> }>}
 *
 * `stop()` is a graceful shutdown (SIGTERM, SIGKILL after 15 s; a temporary data dir is removed).
 * `kill()` is a crash (SIGKILL of the JVM, nothing flushed by Kafka itself; the data dir is kept,
 * even a temporary one, until `stop()`). `restart()`, after either, starts a broker on the same
 * ports and data dir (its topics kept) and resolves with its new handle once it serves requests;
 * fault tests use it with their own `dataDir`, since `stop()` removes a temporary one.
 */
export async function startBroker({
  port,
  controllerPort,
  dataDir,
  log = defaultLog,
  version = KAFKA_VERSION,
  clusterId = DEFAULT_CLUSTER_ID,
  autoCreateTopics = false,
  extraProperties = {},
  detached = false,
  readyTimeoutMs = 60_000,
  heap = '-Xms256m -Xmx768m',
} = {}) {
  const libsDir = await ensureKafkaJars({ log, version });
  const classPath = `${libsDir}${path.sep}*`;

  const tempDataDir = !dataDir;
  dataDir = path.resolve(dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-kafka-')));
  port = port || (await freePort());
  controllerPort = controllerPort || (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  if (await isPortOpen(port)) throw new Error(`port 127.0.0.1:${port} is already in use`);
  if (await isPortOpen(controllerPort)) throw new Error(`port 127.0.0.1:${controllerPort} is already in use`);

  const logsDir = path.join(dataDir, 'logs');
  const kraftDir = path.join(dataDir, 'kraft-data');
  fs.mkdirSync(logsDir, { recursive: true });
  fs.mkdirSync(kraftDir, { recursive: true });
  const serverProps = path.join(dataDir, 'server.properties');
  const brokerLogCfg = path.join(dataDir, majorOf(version) >= 4 ? 'log4j2.properties' : 'log4j.properties');
  const toolsLogCfg = path.join(
    dataDir,
    majorOf(version) >= 4 ? 'tools-log4j2.properties' : 'tools-log4j.properties',
  );
  fs.writeFileSync(
    serverProps,
    serverProperties({ port, controllerPort, logDirs: kraftDir, version, autoCreateTopics, extraProperties }),
  );
  fs.writeFileSync(brokerLogCfg, brokerLogConfig(version, logsDir));
  fs.writeFileSync(toolsLogCfg, toolsLogConfig(version));

  // Format storage once per data dir (a restarted dev broker keeps its topics).
  if (!fs.existsSync(path.join(kraftDir, 'meta.properties'))) {
    const fmt = spawnSync(
      'java',
      [
        '-cp',
        classPath,
        logConfigFlag(version, toolsLogCfg),
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        serverProps,
        '--ignore-formatted',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    fs.writeFileSync(path.join(logsDir, 'format.log'), `${fmt.stdout ?? ''}${fmt.stderr ?? ''}`);
    if (fmt.status !== 0) {
      throw new Error(
        `kafka StorageTool format failed (exit ${fmt.status ?? fmt.signal}${fmt.error ? `, ${fmt.error.message}` : ''}):\n` +
          `${fmt.stdout ?? ''}${fmt.stderr ?? ''}`.slice(-4000),
      );
    }
  }

  const logFile = path.join(logsDir, 'server.log');
  const outFile = path.join(logsDir, 'kafka.out'); // JVM stdout/stderr (crashes, GC warnings)
  const outFd = fs.openSync(outFile, 'a');
  const javaArgs = [
    ...heap.split(/\s+/).filter(Boolean),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${logsDir}`,
    logConfigFlag(version, brokerLogCfg),
    '-cp',
    classPath,
    'kafka.Kafka',
    serverProps,
  ];
  log(
    `starting Kafka ${version} broker on 127.0.0.1:${port} (controller ${controllerPort}), data ${dataDir}`,
  );
  const startedAt = Date.now();
  const child = spawn('java', javaArgs, { cwd: dataDir, detached: true, stdio: ['ignore', outFd, outFd] });
  fs.closeSync(outFd);
  const pid = child.pid;
  if (!pid) throw new Error('could not spawn java (is a JDK 17+ on PATH?)');

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      liveBrokers.delete(pid);
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });

  if (detached) {
    child.unref();
  } else {
    liveBrokers.set(pid, { dataDir, removeDataDir: tempDataDir });
    installExitHandlers();
    spawnWatchdog({ parentPid: process.pid, brokerPid: pid, removeDir: tempDataDir ? dataDir : null });
    // Do not keep the event loop alive just for the broker: a test file that forgot stop() still exits
    // (and the exit handler / watchdog then stops the broker).
    child.unref();
  }

  const logTail = () =>
    `--- tail of ${logFile} ---\n${tailFile(logFile)}\n--- tail of ${outFile} ---\n${tailFile(outFile, 2000)}`;

  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      if (!exited) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 15_000);
        await exitPromise;
        clearTimeout(t);
      }
      liveBrokers.delete(pid);
      if (tempDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const kill = async () => {
    if (!exited) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exitPromise;
    }
    liveBrokers.delete(pid);
  };

  const restart = async () => {
    if (!exited) throw new Error(`broker pid ${pid} is still running: stop() or kill() it before restart()`);
    if (tempDataDir && !fs.existsSync(dataDir))
      throw new Error(
        `the temporary data dir ${dataDir} was removed by stop(): pass your own dataDir to restart`,
      );
    return startBroker({
      port,
      controllerPort,
      dataDir,
      log,
      version,
      clusterId,
      autoCreateTopics,
      extraProperties,
      detached,
      readyTimeoutMs,
      heap,
    });
  };

  const brokers = `127.0.0.1:${port}`;
  try {
    const ready = await waitForBroker({
      brokers,
      timeoutMs: readyTimeoutMs,
      log,
      isDead: () =>
        exited &&
        `Kafka broker exited during startup (${exited.error?.message ?? exited.code ?? exited.signal})`,
    });
    log(
      `broker ${brokers} ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s ` +
        `(answering after ${(ready.answeredMs / 1000).toFixed(1)} s, coordinators warmed in ${(ready.warmUpMs / 1000).toFixed(1)} s; pid ${pid})`,
    );
  } catch (err) {
    const tail = logTail();
    await stop().catch(() => {});
    throw new Error(`${err.message}\n${tail}`);
  }

  return { brokers, pid, port, controllerPort, dataDir, logFile, clusterId, stop, kill, restart };
}

/**
 * Stop a broker that this process did not start (e.g. the detached dev broker): SIGTERM, wait up to
 * `timeoutMs`, then SIGKILL. Resolves true if a process was stopped.
 */
export async function stopPid(pid, { timeoutMs = 15_000 } = {}) {
  if (!pid || !isAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  while (isAlive(pid)) await sleep(50);
  return true;
}
