#!/usr/bin/env node
// Smoke test: proves kafkajs (2.2.4, unmaintained) works against the Kafka broker we run.
//   node scripts/kafka/smoke.mjs                 # starts its own broker (temp dir), stops it after
//   KAFKA_BROKERS=127.0.0.1:9092 node scripts/kafka/smoke.mjs   # against a running broker
//   PARLEY_KAFKA_VERSION=3.9.1 node scripts/kafka/smoke.mjs     # against another Kafka version
// Checks: 3-partition topic; idempotent producer (acks=-1, maxInFlightRequests=1); consumer group
// from the beginning with manual commits; a restarted consumer of the same group resumes at the
// committed offsets; admin fetchTopicOffsets/fetchOffsets; consumer.seek. Exits 1 on any failure.
// Prints every Kafka API + version kafkajs actually sent (the KIP-896 question).

import { randomBytes } from 'node:crypto';
import { KAFKA_VERSION, createTopicsAndWait, startBroker } from './broker.mjs';

const { Kafka, logLevel } = await import('kafkajs');

const requests = new Map(); // "ApiName v<N>" -> count
const logCreator =
  () =>
  ({ level, log }) => {
    const m = /^Request (\w+)\(key: (\d+), version: (\d+)\)/.exec(log.message ?? '');
    if (m) {
      const k = `${m[1]} (key ${m[2]}) v${m[3]}`;
      requests.set(k, (requests.get(k) ?? 0) + 1);
      return;
    }
    if (level <= logLevel.WARN) {
      const { message, timestamp, logger, ...rest } = log;
      void timestamp;
      void logger;
      const detail = rest.error
        ? ` - ${rest.error}${rest.retryCount != null ? ` (retry ${rest.retryCount})` : ''}`
        : '';
      process.stderr.write(`[kafkajs ${level === logLevel.ERROR ? 'ERROR' : 'WARN'}] ${message}${detail}\n`);
    }
  };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}
let passed = 0;
function check(cond, msg) {
  if (!cond) throw new Error(`CHECK FAILED: ${msg}`);
  passed++;
  console.log(`ok - ${msg}`);
}

const started = Date.now();
let broker = null;
let brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  broker = await startBroker();
  brokers = broker.brokers;
}
console.log(
  `# kafkajs smoke against ${brokers} (Kafka ${process.env.KAFKA_BROKERS ? '(external)' : KAFKA_VERSION})`,
);

const kafka = new Kafka({
  clientId: 'parley-smoke',
  brokers: [brokers],
  logLevel: logLevel.DEBUG,
  logCreator,
});
const admin = kafka.admin();
const run = randomBytes(3).toString('hex');
const topic = `smoke-${run}`;
const groupId = `smoke-group-${run}`;
const clients = [];

try {
  await admin.connect();
  clients.push(admin);
  const cluster = await admin.describeCluster();
  check(
    cluster.brokers.length === 1 && cluster.controller != null,
    `describeCluster: 1 broker, controller ${cluster.controller}, cluster ${cluster.clusterId}`,
  );

  // 1. topic with 3 partitions
  // (not createTopics({ waitForLeaders: true }): see createTopicsAndWait in broker.mjs, kafkajs #815)
  check(
    await createTopicsAndWait(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]),
    `createTopics ${topic}, all leaders elected`,
  );
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  check(meta.topics[0].partitions.length === 3, 'topic has 3 partitions');

  // 2. idempotent producer, acks=-1
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  clients.push(producer);
  const send = async (from, to) => {
    const messages = [];
    for (let i = from; i < to; i++) messages.push({ key: `k${i % 7}`, value: `m${i}` });
    const res = await producer.send({ topic, acks: -1, messages });
    return res;
  };
  const r1 = await send(0, 30);
  check(
    r1.every((r) => r.errorCode === 0),
    `idempotent producer sent 30 messages (acks=-1): ${JSON.stringify(r1.map((r) => [r.partition, r.baseOffset]))}`,
  );

  // 3. admin fetchTopicOffsets
  const offs1 = await admin.fetchTopicOffsets(topic);
  const hw1 = Object.fromEntries(offs1.map((o) => [o.partition, Number(o.high)]));
  const total1 = Object.values(hw1).reduce((a, b) => a + b, 0);
  check(total1 === 30, `fetchTopicOffsets high watermarks ${JSON.stringify(hw1)} sum to 30`);
  check(Object.values(hw1).filter((n) => n > 0).length >= 2, 'messages spread over several partitions');

  // 4. consumer group from the beginning, manual commits
  const consumeWith = async (label, expected, { fromBeginning = true } = {}) => {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    clients.push(consumer);
    await consumer.subscribe({ topics: [topic], fromBeginning });
    const got = [];
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        got.push({ partition, offset: Number(message.offset), value: message.value.toString() });
        await consumer.commitOffsets([{ topic: t, partition, offset: String(Number(message.offset) + 1) }]);
      },
    });
    await until(`${label}: ${expected} messages`, () => got.length >= expected);
    await sleep(500); // anything extra (a duplicate) would show up now
    await consumer.disconnect();
    clients.splice(clients.indexOf(consumer), 1);
    return got;
  };
  const got1 = await consumeWith('first consumer', 30);
  const values1 = new Set(got1.map((m) => m.value));
  check(
    got1.length === 30 && values1.size === 30,
    `group ${groupId}: first consumer read all 30 from the beginning, no duplicates`,
  );

  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const c1 = Object.fromEntries(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
  check(
    JSON.stringify(c1) === JSON.stringify(hw1),
    `admin.fetchOffsets: committed ${JSON.stringify(c1)} == high watermarks`,
  );

  // 5. restart: same group resumes from the committed offsets
  const r2 = await send(30, 45);
  check(
    r2.every((r) => r.errorCode === 0),
    'sent 15 more messages',
  );
  const got2 = await consumeWith('restarted consumer', 15);
  const values2 = got2.map((m) => m.value).sort();
  const expected2 = Array.from({ length: 15 }, (_, i) => `m${30 + i}`).sort();
  check(
    JSON.stringify(values2) === JSON.stringify(expected2),
    'restarted consumer (same group, fromBeginning) resumed at committed offsets: exactly m30..m44',
  );
  check(
    got2.every((m) => m.offset >= hw1[m.partition]),
    'every resumed offset >= the earlier committed offset of its partition',
  );

  // 6. consumer.seek (a separate group, starting at latest, seeks each partition back to offset 2)
  const offs2 = await admin.fetchTopicOffsets(topic);
  const hw2 = Object.fromEntries(offs2.map((o) => [o.partition, Number(o.high)]));
  const expectSeek = Object.values(hw2).reduce((a, n) => a + Math.max(0, n - 2), 0);
  const seeker = kafka.consumer({ groupId: `${groupId}-seek`, maxWaitTimeInMs: 100 });
  await seeker.connect();
  clients.push(seeker);
  await seeker.subscribe({ topics: [topic], fromBeginning: false });
  const got3 = [];
  await seeker.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      got3.push({ partition, offset: Number(message.offset) });
    },
  });
  for (const p of [0, 1, 2]) seeker.seek({ topic, partition: p, offset: '2' });
  await until(`seek: ${expectSeek} messages`, () => got3.length >= expectSeek);
  await sleep(500);
  const minByPartition = {};
  for (const m of got3)
    minByPartition[m.partition] = Math.min(minByPartition[m.partition] ?? Infinity, m.offset);
  check(
    got3.length === expectSeek,
    `consumer.seek to offset 2 on each partition re-read ${got3.length} messages (expected ${expectSeek})`,
  );
  check(
    Object.values(minByPartition).every((o) => o === 2),
    `lowest offset read per partition is 2: ${JSON.stringify(minByPartition)}`,
  );

  await seeker.disconnect();
  clients.splice(clients.indexOf(seeker), 1);
  await admin.deleteTopics({ topics: [topic] });
  check(true, 'deleteTopics');
  console.log('# Kafka APIs kafkajs used (name, key, version: count):');
  for (const [k, n] of [...requests].sort()) console.log(`#   ${k}: ${n}`);
  console.log(`# smoke passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, 0 failed`);
} catch (err) {
  console.error(`not ok - ${err.stack ?? err}`);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  for (const c of clients.reverse()) await c.disconnect().catch(() => {});
  if (broker) await broker.stop();
}
