// Provision and run a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
// from Maven Central jars. No tarball, no Docker. Plain Node ESM: Node built-ins + kafkajs.
//
//   import { startBroker } from './scripts/kafka/broker.mjs';
//   const broker = await startBroker();            // free loopback ports, temp data dir
//   // ... new Kafka({ brokers: [broker.brokers] }) ...
//   await broker.stop();
//
// See docs/KAFKA.md for the version choice and the evidence behind it.
//
// The parts: kafka-paths.mjs (cache, version), kafka-jars.mjs (the Maven download), broker-config.mjs
// (server.properties, log4j), processes.mjs (ports, pids, cleanup), broker-ready.mjs (readiness).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brokerLogConfig, logConfigFlag, serverProperties, toolsLogConfig } from './broker-config.mjs';
import { waitForBroker } from './broker-ready.mjs';
import { ensureKafkaJars } from './kafka-jars.mjs';
import { DEFAULT_CLUSTER_ID, KAFKA_VERSION, defaultLog, majorOf } from './kafka-paths.mjs';
import {
  freePort,
  installExitHandlers,
  isPortOpen,
  liveBrokers,
  spawnWatchdog,
  tailFile,
} from './processes.mjs';

export { DEFAULT_CLUSTER_ID, KAFKA_CACHE_DIR, KAFKA_VERSION, REPO_ROOT } from './kafka-paths.mjs';
export { ensureKafkaJars } from './kafka-jars.mjs';
export { freePort, isAlive, isPortOpen, stopPid, tailFile } from './processes.mjs';
export { createTopicsAndWait, waitForBroker } from './broker-ready.mjs';

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
 * @param {number} [opts.nodeId=1]        KRaft node id (one of a cluster: see cluster.mjs)
 * @param {string} [opts.voters]          controller.quorum.voters (default: this node alone)
 * @param {number} [opts.replication=1]   replicas of the internal topics (3 in a three-node cluster)
 * @param {boolean} [opts.waitReady=true] wait until it serves requests (a cluster node cannot alone)
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
  nodeId = 1,
  voters,
  replication = 1,
  waitReady = true,
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
    serverProperties({
      port,
      controllerPort,
      logDirs: kraftDir,
      version,
      autoCreateTopics,
      extraProperties,
      nodeId,
      voters,
      replication,
    }),
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
      nodeId,
      voters,
      replication,
      waitReady,
    });
  };

  const brokers = `127.0.0.1:${port}`;
  const handle = {
    brokers,
    pid,
    port,
    controllerPort,
    dataDir,
    logFile,
    clusterId,
    nodeId,
    stop,
    kill,
    restart,
  };
  const ready = async () => {
    const answer = await waitForBroker({
      brokers,
      timeoutMs: readyTimeoutMs,
      log,
      isDead: () =>
        exited &&
        `Kafka broker exited during startup (${exited.error?.message ?? exited.code ?? exited.signal})`,
    });
    log(
      `broker ${brokers} ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s ` +
        `(answering after ${(answer.answeredMs / 1000).toFixed(1)} s, coordinators warmed in ${(answer.warmUpMs / 1000).toFixed(1)} s; pid ${pid})`,
    );
    return handle;
  };
  const readyOrStop = async () => {
    try {
      return await ready();
    } catch (err) {
      const tail = logTail();
      await stop().catch(() => {});
      throw new Error(`${err.message}\n${tail}`);
    }
  };
  if (!waitReady) return { ...handle, ready: readyOrStop };
  return readyOrStop();
}
