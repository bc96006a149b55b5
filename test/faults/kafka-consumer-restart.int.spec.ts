import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { KafkaJSNonRetriableError, type Admin, type Consumer, type Producer } from 'kafkajs';
import { createKafka, restartWhenStopped } from '@parley/event-store';
import { waitFor } from '@parley/testing';

function brokers(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is unset: run through `node scripts/test.mjs`');
  return value.split(',');
}

/**
 * docs/RELIABILITY.md §3: kafkajs restarts a crashed consumer only after a retriable error. After a
 * non-retriable one (a broker that shuts down answers FindCoordinator with one) it leaves the
 * consumer stopped for good: the local store would stop following the log, the instance would
 * own no run again. `restartWhenStopped` starts it again. Here kafkajs stops a real consumer the
 * same way, with a non-retriable error thrown from its handler.
 */
describe('restartWhenStopped: a consumer kafkajs stopped for good runs again', () => {
  const topic = `consumer-restart-${randomUUID().slice(0, 8)}`;
  const kafka = createKafka('consumer-restart-test', brokers(), () => undefined, {
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 },
  });
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let closing = false;

  after(async () => {
    closing = true;
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('restarts it after a non-retriable crash; the message it failed on is read again', async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false });
    await waitFor(
      'the topic to have a leader',
      async () => {
        const md = await admin!.fetchTopicMetadata({ topics: [topic] });
        return (
          md.topics[0]?.partitions.every((p) => p.leader >= 0) && (await admin!.fetchTopicOffsets(topic))
        );
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    producer = kafka.producer();
    await producer.connect();

    const c = kafka.consumer({ groupId: `consumer-restart-${randomUUID()}`, maxWaitTimeInMs: 200 });
    consumer = c;
    const seen: string[] = [];
    const crashes: boolean[] = [];
    const restarts: string[] = [];
    let failOnce = true;
    c.on(c.events.CRASH, (e) => crashes.push((e.payload as { restart: boolean }).restart));
    const run = () =>
      c.run({
        eachMessage: async ({ message }) => {
          const value = message.value!.toString();
          if (value === 'poison' && failOnce) {
            failOnce = false;
            throw new KafkaJSNonRetriableError('simulated: an error kafkajs does not retry');
          }
          seen.push(value);
        },
      });
    restartWhenStopped(
      c,
      async () => {
        await c.connect();
        await run();
      },
      { closing: () => closing, log: (line) => restarts.push(line), name: 'test' },
    );
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await run();

    await producer.send({ topic, messages: [{ value: 'poison' }, { value: 'after' }] });
    await waitFor('both messages to be read after the restart', () => seen.includes('after'), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    assert.deepEqual(crashes.slice(0, 1), [false], 'kafkajs stopped the consumer for good (restart: false)');
    assert.ok(
      restarts.some((l) => l.includes('restarting the test consumer')),
      restarts.join('\n'),
    );
    assert.deepEqual(seen, ['poison', 'after'], 'the failed message is read again, then the next');
  });
});
