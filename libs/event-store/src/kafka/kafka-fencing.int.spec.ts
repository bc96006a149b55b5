import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { NotOwnerError, verifyChain } from '@parley/contracts';
import { waitFor } from '@parley/testing';
import { message } from '../event-store.contract';
import { KafkaEventStore } from './kafka-event-store';

/**
 * Fencing at the broker: two stores that write one partition under the same transactional id, as
 * two instances of a cluster do when ownership moves. The one that claimed last is the only one
 * the broker lets write; the other's append (and its open transaction) are refused.
 */
const BROKERS = process.env.KAFKA_BROKERS;
if (!BROKERS) {
  throw new Error('KAFKA_BROKERS is not set: run this suite through `npm test`, which starts a broker');
}
const brokers = BROKERS.split(',');
const tag = randomUUID().slice(0, 8);
const topics = new Set<string>();
const stores: KafkaEventStore[] = [];
const lines: string[] = [];

async function open(topic: string): Promise<KafkaEventStore> {
  const store = await KafkaEventStore.open({
    brokers,
    topic,
    localDir: ':memory:',
    clientId: `parley-fencing-${tag}`,
    writes: 'claimed',
    log: (line) => lines.push(line),
  });
  stores.push(store);
  return store;
}

function partitionOf(store: KafkaEventStore, runId: string): number {
  return (store as unknown as { topicAdmin: { partitionOf: (id: string) => number } }).topicAdmin.partitionOf(
    runId,
  );
}

after(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  const admin = new Kafka({
    brokers,
    clientId: 'parley-fencing-cleanup',
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [...topics], timeout: 10_000 }).catch(() => undefined);
  await admin.disconnect();
});

describe('KafkaEventStore: a claim fences the previous writer of a partition at the broker', () => {
  it('refuses the previous owner’s next append, and the topic holds one version of each seq', async () => {
    const topic = `parley-fencing-${tag}-next`;
    topics.add(topic);
    const a = await open(topic);
    const b = await open(topic);
    const runId = `run-${randomUUID()}`;
    const partition = partitionOf(a, runId);
    const fenced: number[] = [];
    a.onFenced((p) => fenced.push(p));

    await assert.rejects(a.append(runId, 0, [message('unclaimed')]), NotOwnerError, 'no claim, no write');
    await a.claim([partition]);
    await a.append(runId, 0, [message('1 by a')]);

    await b.claim([partition]); // a is paused, b takes the run over: it has read a's event first
    assert.equal((await b.head(runId))?.seq, 1, 'the claim caught up with the partition');
    await b.append(runId, 1, [message('2 by b')]);

    // a wakes up believing it still owns the run, with its stale view (it may or may not have read b's event)
    const stale = (await a.head(runId))?.seq ?? 0;
    await assert.rejects(a.append(runId, stale, [message(`${stale + 1} by a (stale)`)]), (error: Error) => {
      assert.ok(
        error instanceof NotOwnerError || (error as { code?: string }).code === 'EVENT_STORE.CONCURRENCY',
      );
      return true;
    });
    if (stale === 1) {
      assert.deepEqual(fenced, [partition], 'the store reported the partition lost');
      assert.deepEqual(a.claimedPartitions(), []);
      assert.ok(lines.some((l) => l.includes('FENCED') && l.includes(`partition ${partition}`)));
    }

    const fresh = await open(topic);
    const events = await fresh.read(runId);
    assert.deepEqual(
      events.map((e) => [e.seq, (e.data as { text: string }).text]),
      [
        [1, '1 by a'],
        [2, '2 by b'],
      ],
    );
    assert.equal(verifyChain(events).ok, true);
    assert.equal(fresh.stats().rejected, 0, 'no second version of a seq ever reached the topic');
  });

  it('warns at open about a topic with less than production replication (one broker here)', async () => {
    const topic = `parley-fencing-${tag}-replication`;
    topics.add(topic);
    const store = await open(topic);
    const brokersInCluster = (
      await (
        store as unknown as {
          topicAdmin: { admin: { describeCluster: () => Promise<{ brokers: unknown[] }> } };
        }
      ).topicAdmin.admin.describeCluster()
    ).brokers.length;
    const warned = lines.some((l) => l.includes(`WARNING: topic ${topic} runs with replication factor`));
    assert.equal(warned, brokersInCluster < 3, `${brokersInCluster} broker(s): warned ${warned}`);
  });

  it('aborts the transaction a paused owner had open: its records are never read', async () => {
    const topic = `parley-fencing-${tag}-open`;
    topics.add(topic);
    const a = await open(topic);
    const b = await open(topic);
    const runId = `run-${randomUUID()}`;
    const partition = partitionOf(a, runId);
    await a.claim([partition]);

    // a is paused between its transaction's send and its commit
    type Transaction = { commit: () => Promise<void> };
    const lane = (
      a as unknown as { lanes: Map<number, { producer: { transaction: () => Promise<Transaction> } }> }
    ).lanes.get(partition)!;
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let sent!: () => void;
    const inTransaction = new Promise<void>((r) => (sent = r));
    const begin = lane.producer.transaction.bind(lane.producer);
    lane.producer.transaction = async () => {
      const transaction = await begin();
      const commit = transaction.commit.bind(transaction);
      transaction.commit = async () => {
        sent();
        await paused;
        return commit();
      };
      return transaction;
    };
    const stalled = a.append(runId, 0, [message('1 by a, never committed')]);
    await inTransaction;

    await b.claim([partition]); // aborts a's open transaction
    await b.append(runId, 0, [message('1 by b')]);
    resume();
    await assert.rejects(stalled, NotOwnerError);

    const fresh = await open(topic);
    assert.deepEqual(
      (await fresh.read(runId)).map((e) => (e.data as { text: string }).text),
      ['1 by b'],
    );
    assert.equal(fresh.stats().rejected, 0);
    await waitFor('the fenced store reads b’s commit', async () => (await a.read(runId)).length === 1);
    assert.deepEqual(
      (await a.read(runId)).map((e) => (e.data as { text: string }).text),
      ['1 by b'],
      'the fenced store converges on the log',
    );
  });
});
