import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import { ConcurrencyError, verifyChain } from '@parley/contracts';
import { waitFor } from '@parley/testing';
import { eventStoreContract, message } from '../event-store.contract';
import { sealBatch } from '../seal';
import { KafkaEventStore, type KafkaEventStoreConfig } from './kafka-event-store';

const BROKERS = process.env.KAFKA_BROKERS;
if (!BROKERS) {
  throw new Error(
    'KAFKA_BROKERS is unset: the Kafka event store tests need a real broker. Run them with `node scripts/test.mjs event-store` ' +
      '(it starts one) or set KAFKA_BROKERS=host:port.',
  );
}
const brokers = BROKERS.split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const tag = randomUUID().slice(0, 8);
const root = mkdtempSync(join(tmpdir(), 'parley-kafka-store-'));
const topics = new Set<string>();
const REPO = resolve(__dirname, '../../../../..');

const lines: string[] = [];
const log = (line: string): void => {
  lines.push(line);
  if (process.env.PARLEY_KAFKA_DEBUG) process.stderr.write(`${line}\n`);
};

function topicName(suffix: string): string {
  const topic = `parley-test-${tag}-${suffix}`;
  topics.add(topic);
  return topic;
}

function openStore(
  topic: string,
  localDir: string,
  extra: Partial<KafkaEventStoreConfig> = {},
): Promise<KafkaEventStore> {
  // Each store writes through transactional ids of its own: these tests open several writers on one
  // topic on purpose (fencing between writers of one prefix has its own test below).
  return KafkaEventStore.open({
    brokers,
    topic,
    localDir,
    log,
    clientId: `parley-test-${tag}`,
    transactionalIdPrefix: `${topic}-${randomUUID()}`,
    ...extra,
  });
}

type Transaction = { commit: () => Promise<void> };
type TransactionalProducer = { transaction: () => Promise<Transaction> };

/**
 * Run `hook` instead of every commit of the send lane of `runId`'s partition (its current producer
 * and every later one: a failed transaction retires the producer). `hook` gets the real commit.
 */
function onCommits(
  store: KafkaEventStore,
  runId: string,
  hook: (commit: () => Promise<void>) => Promise<void>,
) {
  const internals = store as unknown as {
    topicAdmin: { partitionOf: (runId: string) => number };
    lanes: Map<
      number,
      { producer: TransactionalProducer; deps: { newProducer: () => TransactionalProducer } }
    >;
  };
  const lane = internals.lanes.get(internals.topicAdmin.partitionOf(runId))!;
  const wrap = (producer: TransactionalProducer): TransactionalProducer => {
    const begin = producer.transaction.bind(producer);
    producer.transaction = async () => {
      const transaction = await begin();
      const commit = transaction.commit.bind(transaction);
      transaction.commit = () => hook(commit);
      return transaction;
    };
    return producer;
  };
  wrap(lane.producer);
  const newProducer = lane.deps.newProducer;
  lane.deps.newProducer = () => wrap(newProducer());
}

async function deleteTopics(): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'parley-test-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...topics], timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

after(async () => {
  await deleteTopics().catch((error: Error) =>
    process.stderr.write(`topic cleanup failed: ${error.message}\n`),
  );
  rmSync(root, { recursive: true, force: true });
});

/** A node process running `script` with the repo's path aliases; its output as it comes. */
function childProcess(
  script: string,
  env: Record<string, string>,
): { out: () => string; err: () => string; exited: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, ['-e', script], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: `--require ${join(REPO, 'bin/register-paths.js')}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    out: () => out,
    err: () => err,
    exited: new Promise((r) => child.on('exit', r)),
    kill: () => child.kill('SIGKILL'),
  };
}

// Each location is its own topic; each open at a location gets a FRESH local store, so the
// "persists across close and reopen" test proves that a new client rebuilds from the topic.
let locations = 0;
eventStoreContract('kafka', {
  newLocation: () => join(root, `contract-${++locations}`),
  open: (location) => openStore(topicName(basename(location)), join(location, `local-${randomUUID()}`)),
  extraRecords: (store) => {
    const { duplicates, rejected, badRecords } = store.stats();
    return duplicates + rejected + badRecords;
  },
});

describe('KafkaEventStore: Kafka-specific behaviour', () => {
  const opened: KafkaEventStore[] = [];
  const track = async (store: Promise<KafkaEventStore>): Promise<KafkaEventStore> => {
    const s = await store;
    opened.push(s);
    return s;
  };
  after(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
  });

  it('lets a second, independent instance (fresh local store) see the first one’s events', async (t) => {
    const topic = topicName('two-instances');
    const a = await track(openStore(topic, ':memory:'));
    const runId = `run-${randomUUID()}`;
    const written = await a.append(runId, 0, [message('from A 1'), message('from A 2')]);

    const startedAt = Date.now();
    const b = await track(openStore(topic, ':memory:'));
    t.diagnostic(`second instance open + catch-up: ${Date.now() - startedAt} ms`);
    // A commit is readable by read_committed readers once the broker has written its markers, a few
    // ms after the commit answered: another instance sees it that much later.
    await waitFor('B has A’s committed events', async () => (await b.read(runId)).length === written.length);
    assert.deepStrictEqual(await b.read(runId), written);

    // Live: B follows A's later writes (fan-out), by subscription and by waitForCatchUp.
    const seen: StoredEvent[] = [];
    const sub = b.subscribe(await b.lastPosition(), (s) => seen.push(s));
    await sub.ready;
    const more = await a.append(runId, 2, [message('from A 3')]);
    await waitFor('B has A’s next event', async () => (await b.read(runId)).length === written.length + 1);
    assert.deepStrictEqual(await b.read(runId), [...written, ...more]);
    await waitFor('B’s subscription delivers A’s live event', () => seen.length === 1);
    assert.equal(seen[0].event.eventId, more[0].eventId);
    sub.close();

    // B can continue the run from what it materialised; A sees it too.
    await b.append(runId, 3, [message('from B')]);
    await waitFor('A has B’s event', async () => (await a.head(runId))?.seq === 4);
    assert.equal(verifyChain(await a.read(runId)).ok, true);
    // Stale check is against B's local head.
    await assert.rejects(b.append(runId, 3, [message('stale')]), ConcurrencyError);
  });

  it('resumes a persisted local store from its stored offsets, and receives what was written while it was down', async (t) => {
    const topic = topicName('resume');
    const dir = join(root, 'resume-local');
    const first = await track(openStore(topic, dir));
    const runA = `run-${randomUUID()}`;
    const before = await first.append(runA, 0, [message('1'), message('2'), message('3')]);
    const other = `run-${randomUUID()}`;
    await first.append(other, 0, [message('other')]);
    // the consumer has read past the 4 records and the commit marker of each of the 2 transactions
    await waitFor('the consumer passed every record and marker', async () => {
      await first.waitForCatchUp();
      return Object.values(first.offsets()).reduce((a, b) => a + b, 0) === 6;
    });
    const offsetsBefore = first.offsets();
    const positionBefore = await first.lastPosition();
    assert.equal(
      Object.values(offsetsBefore).reduce((a, b) => a + b, 0),
      4 + 2,
      'past the 4 records and the commit marker of each of the 2 transactions',
    );
    await first.close();

    // While it is down, another instance writes to the same run and a new one.
    const writer = await track(openStore(topic, ':memory:'));
    const whileDown = await writer.append(runA, 3, [message('4 while down')]);
    const runB = `run-${randomUUID()}`;
    const newRun = await writer.append(runB, 0, [message('new run while down')]);

    const startedAt = Date.now();
    const again = await track(openStore(topic, dir));
    t.diagnostic(`reopen of a persisted store + catch-up: ${Date.now() - startedAt} ms`);
    // It read only the two records written while it was down: it resumed, it did not rebuild.
    assert.deepEqual(again.stats(), {
      recordsConsumed: 2,
      eventsApplied: 2,
      duplicates: 0,
      rejected: 0,
      badRecords: 0,
    });
    assert.deepStrictEqual(await again.read(runA), [...before, ...whileDown]);
    assert.deepStrictEqual(await again.read(runB), newRun);
    assert.equal((await again.read(other)).length, 1);
    assert.equal(await again.lastPosition(), positionBefore + 2);
    await again.append(runA, 4, [message('5 after restart')]);
    assert.equal(verifyChain(await again.read(runA)).ok, true);
  });

  it('applies a duplicated record once, keeps the first of a conflicting one, and skips garbage without stopping', async () => {
    const topic = topicName('duplicates');
    const store = await track(openStore(topic, ':memory:'));
    const runId = `run-${randomUUID()}`;
    const [first] = sealBatch(runId, undefined, [message('original')]);
    const [forged] = sealBatch(runId, undefined, [message('split-brain rival')]);
    const [second] = sealBatch(runId, { seq: 1, hash: first.hash }, [message('second')]);

    const raw = new Kafka({ brokers, clientId: 'parley-test-raw', logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await raw.connect();
    try {
      const record = (e: EventEnvelope) => ({ key: runId, value: JSON.stringify(e) });
      await raw.send({ topic, acks: -1, messages: [record(first), record(first)] });
      await raw.send({
        topic,
        acks: -1,
        messages: [{ key: runId, value: '{not json' }, record(forged), record(first)],
      });
      await raw.send({
        topic,
        acks: -1,
        messages: [{ key: 'wrong-key', value: JSON.stringify(second) }, record(second)],
      });
    } finally {
      await raw.disconnect();
    }
    await store.waitForCatchUp();
    assert.deepStrictEqual(await store.read(runId), [first, second]);
    assert.deepEqual(store.stats(), {
      recordsConsumed: 7,
      eventsApplied: 2,
      duplicates: 2,
      rejected: 1,
      badRecords: 2,
    });
    assert.ok(lines.some((l) => l.includes('split-brain write') && l.includes(runId)));
    assert.ok(lines.some((l) => l.includes('skipping bad record') && l.includes(topic)));

    // The consumer is still alive, and the store appends after what it consumed.
    await store.append(runId, 2, [message('third')]);
    const other = await track(openStore(topic, ':memory:'));
    assert.deepStrictEqual(await other.read(runId), await store.read(runId));
  });

  it('reads what a separate process appended', async () => {
    const topic = topicName('child');
    const store = await track(openStore(topic, ':memory:'));
    const runId = `run-${randomUUID()}`;
    const script = `
      const { KafkaEventStore } = require('@parley/event-store');
      (async () => {
        const store = await KafkaEventStore.open({ brokers: process.env.KAFKA_BROKERS.split(','), topic: process.env.TOPIC, localDir: ':memory:', log: () => {} });
        const actor = { kind: 'human', id: 'bob' };
        const data = (text) => ({ by: { id: 'bob', role: 'participant' }, text });
        const written = await store.append(process.env.RUN_ID, 0, [
          { type: 'human-message.posted', actor, data: data('from another process') },
          { type: 'human-message.posted', actor, data: data('and again') },
        ]);
        await store.close();
        process.stdout.write(JSON.stringify(written));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const child = childProcess(script, { TOPIC: topic, RUN_ID: runId });
    const code = await child.exited;
    assert.equal(code, 0, `child failed: ${child.err()}`);
    const written = JSON.parse(child.out()) as EventEnvelope[];
    assert.equal(written.length, 2);

    await waitFor('the other process’s events', async () => (await store.read(runId)).length === 2, {
      timeoutMs: 15_000,
    });
    assert.deepStrictEqual(await store.read(runId), written);
    await store.append(runId, 2, [message('continued here')]);
    assert.equal(verifyChain(await store.read(runId)).ok, true);
  });

  it('a process killed after reading back its own records (offsets not yet saved) re-reads them on restart, as stored, and goes on', async () => {
    const topic = topicName('killed-owner');
    const dir = join(root, 'killed-owner-local');
    const runId = `run-${randomUUID()}`;
    // The child appends 3 batches, waits until its consumer has read them back (skipped as its own,
    // without a commit), reports, and is SIGKILLed by this test before the offsets are written.
    const script = `
      const { KafkaEventStore } = require('@parley/event-store');
      (async () => {
        const store = await KafkaEventStore.open({ brokers: process.env.KAFKA_BROKERS.split(','), topic: process.env.TOPIC, localDir: process.env.DIR, log: () => {} });
        const actor = { kind: 'human', id: 'bob' };
        const data = (text) => ({ by: { id: 'bob', role: 'participant' }, text });
        const written = [];
        for (let i = 0; i < 3; i++)
          written.push(...(await store.append(process.env.RUN_ID, i, [{ type: 'human-message.posted', actor, data: data('message ' + i) }])));
        // its own records are readable once the last commit's markers are written (a few ms)
        while (store.stats().recordsConsumed < 3) { await store.waitForCatchUp(); await new Promise((r) => setTimeout(r, 20)); }
        process.stdout.write(JSON.stringify({ written, stats: store.stats() }) + '\\n');
        setInterval(() => {}, 1000);
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const child = childProcess(script, { TOPIC: topic, RUN_ID: runId, DIR: dir });
    await waitFor('the child’s report', () => child.out().includes('\n'), { timeoutMs: 30_000 }).catch(
      (error: Error) => {
        throw new Error(`${error.message}; its stderr: ${child.err()}`);
      },
    );
    child.kill(); // SIGKILL, well within OFFSETS_SAVE_MS of its last read
    await child.exited;
    const report = JSON.parse(child.out()) as {
      written: EventEnvelope[];
      stats: { recordsConsumed: number; duplicates: number; eventsApplied: number };
    };
    assert.equal(report.stats.recordsConsumed, 3, 'the child read its 3 records back');
    assert.equal(report.stats.eventsApplied, 0, 'applied at acknowledgement, not again by the consumer');

    const again = await track(openStore(topic, dir));
    assert.deepStrictEqual(await again.read(runId), report.written, 'every acknowledged event is there');
    const stats = again.stats();
    assert.equal(
      stats.eventsApplied + stats.rejected + stats.badRecords,
      0,
      'nothing applied twice, nothing rejected',
    );
    assert.ok(stats.duplicates <= 3, `re-read at most the 3 unsaved records (${stats.duplicates})`);
    await again.append(runId, 3, [message('after the kill')]);
    assert.equal(verifyChain(await again.read(runId)).ok, true);
  });

  it('after a produce with an unknown outcome, the next append on that run first catches up', async () => {
    const store = await track(openStore(topicName('uncertain'), ':memory:'));
    const runId = `run-${randomUUID()}`;
    // Simulate a lost acknowledgement: the transaction commits but the commit's answer is lost.
    let failed = false;
    onCommits(store, runId, async (commit) => {
      await commit();
      if (failed) return;
      failed = true;
      throw new Error('simulated: request timed out');
    });
    await assert.rejects(
      store.append(runId, 0, [message('landed anyway')]),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EVENT_STORE.UNAVAILABLE');
        return true;
      },
    );
    // A retry at the same expectedSeq must not fork the stream: it sees what landed.
    await assert.rejects(store.append(runId, 0, [message('retry')]), ConcurrencyError);
    const events = await store.read(runId);
    assert.deepEqual(
      events.map((e) => (e.data as { text: string }).text),
      ['landed anyway'],
    );
    await store.append(runId, 1, [message('next')]);
    assert.equal(verifyChain(await store.read(runId)).ok, true);
  });

  it('a retry of a batch whose ack was lost (same event ids) answers the stored events and produces nothing', async () => {
    const topic = topicName('lost-ack-retry');
    const store = await track(openStore(topic, ':memory:'));
    const runId = `run-${randomUUID()}`;
    // Count the transactions of every producer the store uses (a failed one retires its producer).
    let sends = 0;
    onCommits(store, runId, async (commit) => {
      sends += 1;
      await commit();
      if (sends === 1) throw new Error('simulated: the ack was lost');
    });
    const batch = [
      { ...message('refund approved'), eventId: randomUUID() },
      { ...message('refund sent'), eventId: randomUUID() },
    ];
    await assert.rejects(store.append(runId, 0, batch), { code: 'EVENT_STORE.UNAVAILABLE' });
    // The caller does not know whether it landed and retries the same facts, 10 times over.
    const retries = await Promise.all(Array.from({ length: 10 }, () => store.append(runId, 0, batch)));
    assert.equal(sends, 1, 'no retry reached the broker (through any producer)');
    for (const retry of retries) assert.deepStrictEqual(retry, await store.read(runId));
    assert.deepEqual(
      retries[0].map((e) => [e.seq, e.eventId]),
      batch.map((e, i) => [i + 1, e.eventId]),
    );
    const fresh = await track(openStore(topic, ':memory:'));
    assert.deepStrictEqual(await fresh.read(runId), retries[0]);
    assert.deepEqual(
      fresh.stats(),
      { recordsConsumed: 2, eventsApplied: 2, duplicates: 0, rejected: 0, badRecords: 0 },
      'the topic holds each record once',
    );
  });

  it('measures append latency (sequential, acks=all)', async (t) => {
    const store = await track(openStore(topicName('latency'), ':memory:'));
    const runId = `run-${randomUUID()}`;
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = process.hrtime.bigint();
      await store.append(runId, i, [message(`m${i}`)]);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    const pct = (p: number) =>
      times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(1);
    t.diagnostic(
      `append latency over 100 sequential appends: p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`,
    );
    const startedAt = Date.now();
    const rebuilt = await track(openStore(store.topic, ':memory:'));
    t.diagnostic(`rebuild of 100 events from the topic (open + catch-up): ${Date.now() - startedAt} ms`);
    assert.equal((await rebuilt.read(runId)).length, 100);
  });

  it('fails open with a clear error when the brokers are unreachable', async () => {
    const startedAt = Date.now();
    await assert.rejects(
      KafkaEventStore.open({ brokers: ['127.0.0.1:1'], localDir: ':memory:', log: () => undefined }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EVENT_STORE.KAFKA_UNREACHABLE');
        assert.match(error.message, /KAFKA_BROKERS/);
        assert.match(error.message, /127\.0\.0\.1:1/);
        return true;
      },
    );
    const elapsed = Date.now() - startedAt;
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  });
});
