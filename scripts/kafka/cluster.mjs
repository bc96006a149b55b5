// A three-node Apache Kafka cluster (KRaft, each node broker and controller) from the same Maven
// jars as broker.mjs: what production runs (replication factor 3, min.insync.replicas 2), for the
// tests that kill or stop a broker, the controller included, while Parley works.
//
//   import { startKafkaCluster } from './scripts/kafka/cluster.mjs';
//   const cluster = await startKafkaCluster();        // three nodes on free loopback ports
//   // ... KAFKA_BROKERS=cluster.brokers ...
//   await cluster.controller();                       // the node id of the active controller
//   await cluster.nodes[0].kill(); cluster.nodes[0] = await cluster.nodes[0].restart();
//   await cluster.stop();
//
// Or from a shell: `node scripts/kafka/cluster.mjs` (foreground; prints KAFKA_BROKERS; Ctrl-C stops it).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from './broker.mjs';
import { defaultLog } from './kafka-paths.mjs';
import { freePort } from './processes.mjs';

/**
 * @param {object} [opts]
 * @param {number} [opts.nodes=3]
 * @param {string} [opts.dataDir]  one folder per node inside (`node-1`, ...); a temp dir if omitted
 * @param {(msg: string) => void} [opts.log]
 * @param {number} [opts.readyTimeoutMs=120000]
 */
export async function startKafkaCluster({
  nodes = 3,
  dataDir,
  log = defaultLog,
  readyTimeoutMs = 120_000,
} = {}) {
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new Error(`nodes must be a positive integer, not ${nodes}`);
  const root = path.resolve(dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-kafka-cluster-')));
  const ports = [];
  const taken = new Set();
  const port = async () => {
    let p = await freePort();
    while (taken.has(p)) p = await freePort();
    taken.add(p);
    return p;
  };
  for (let i = 0; i < nodes; i++) ports.push({ port: await port(), controllerPort: await port() });
  const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p.controllerPort}`).join(',');
  const replication = Math.min(3, nodes);
  log(
    `starting a ${nodes}-node Kafka cluster (replication factor ${replication}, min.insync.replicas ${Math.min(2, replication)})`,
  );
  const started = await Promise.all(
    ports.map((p, i) =>
      startBroker({
        ...p,
        nodeId: i + 1,
        voters,
        replication,
        dataDir: path.join(root, `node-${i + 1}`),
        log,
        readyTimeoutMs,
        waitReady: false,
      }),
    ),
  );
  let ready;
  try {
    ready = await Promise.all(started.map((node) => node.ready()));
  } catch (error) {
    await Promise.all(started.map((node) => node.stop().catch(() => {})));
    throw error;
  }
  const cluster = {
    brokers: ready.map((n) => n.brokers).join(','),
    dataDir: root,
    /** The nodes' handles (as broker.mjs returns them): replace one with what its `restart()` resolves to. */
    nodes: ready,
    replication,
    /** The node id of the active controller (KRaft: the quorum leader). */
    async controller() {
      const { Kafka, logLevel } = await import('kafkajs');
      const admin = new Kafka({
        clientId: 'parley-cluster-controller',
        brokers: cluster.nodes.map((n) => n.brokers),
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        return (await admin.describeCluster()).controller;
      } finally {
        await admin.disconnect();
      }
    },
    async stop() {
      await Promise.all(cluster.nodes.map((n) => n.stop().catch(() => {})));
      if (!dataDir) fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}

// `node scripts/kafka/cluster.mjs`: a three-node cluster in the foreground (data in a temp dir,
// removed at exit), for trying Parley against what production runs; Ctrl-C stops it.
if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  const cluster = await startKafkaCluster({ nodes: Number(process.env.KAFKA_NODES ?? 3) });
  console.log(`KAFKA_BROKERS=${cluster.brokers}`);
  console.log(
    `a ${cluster.nodes.length}-node Kafka cluster is running (controller: node ${await cluster.controller()}); Ctrl-C stops it`,
  );
  const stop = async () => {
    await cluster.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}
