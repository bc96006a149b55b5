// Telling when a broker really serves requests (and warming up its coordinators).
import { randomBytes } from 'node:crypto';
import { ensureTopics } from '../../libs/event-store/src/kafka/kafka-topics.mjs';
import { defaultLog } from './kafka-paths.mjs';
import { sleep } from './processes.mjs';

/**
 * Create topics and wait until every partition has a leader that serves it: `ensureTopics`, the one
 * copy shared with the event store and the cluster (libs/event-store/src/kafka/kafka-topics.mjs, which
 * says why not `createTopics({ waitForLeaders: true })`: kafkajs #815).
 *
 * @param {import('kafkajs').Admin} admin  a connected kafkajs admin
 * @param {import('kafkajs').ITopicConfig[]} topics
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {Promise<boolean>} false if every topic already existed (like kafkajs)
 */
export async function createTopicsAndWait(admin, topics, { timeoutMs = 30_000 } = {}) {
  const { created } = await ensureTopics(admin, topics, { timeoutMs });
  return created.length > 0;
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
