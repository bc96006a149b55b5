import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { KafkaEventStore } from '@parley/event-store';
import { waitFor } from '@parley/testing';
import { brokerModule, removeDir, type Broker } from './kafka-faults-kit';

/**
 * A TCP proxy between Kafka clients and a real broker (the broker advertises the proxy's address,
 * so every connection goes through it). Armed, it forwards the next Produce request, swallows its
 * response, cuts the connection and refuses every connection until lifted: the batch is in the
 * log, but the producer never hears so, and its retries all fail.
 */
class LostAckProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private armed = false;
  private blackout = false;
  producesSwallowed = 0;

  private constructor(
    readonly port: number,
    private readonly target: () => number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(port: number, target: () => number): Promise<LostAckProxy> {
    const proxy = new LostAckProxy(port, target);
    await new Promise<void>((resolve) => proxy.server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  /** Lose the acknowledgement of the next Produce request, then refuse connections until `lift()`. */
  armLostAck(): void {
    this.armed = true;
  }

  lift(): void {
    this.blackout = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.blackout) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target(), '127.0.0.1');
    this.sockets.add(client).add(upstream);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    let swallow: number | undefined; // correlation id of the Produce whose response is lost
    frames(client, (frame) => {
      const apiKey = frame.readInt16BE(4);
      if (this.armed && apiKey === 0) {
        this.armed = false;
        swallow = frame.readInt32BE(8);
      }
      upstream.write(frame);
    });
    frames(upstream, (frame) => {
      if (swallow !== undefined && frame.readInt32BE(4) === swallow) {
        this.producesSwallowed += 1;
        this.blackout = true;
        for (const s of this.sockets) s.destroy();
        this.sockets.clear();
        return;
      }
      client.write(frame);
    });
  }
}

/** Calls `onFrame` with each size-prefixed Kafka frame (the 4-byte size included). */
function frames(socket: net.Socket, onFrame: (frame: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0);
      if (buffered.length < 4 + size) break;
      onFrame(buffered.subarray(0, 4 + size));
      buffered = buffered.subarray(4 + size);
    }
  });
}

const note = (text: string): NewEvent => ({
  type: 'human-message.posted',
  actor: { kind: 'human', id: 'alice' },
  data: { by: { id: 'alice', role: 'participant' }, text },
});

async function readTopic(brokers: string, topic: string): Promise<EventEnvelope[]> {
  const kafka = new Kafka({ clientId: 'lost-ack-audit', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic))[0].high);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `lost-ack-audit-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const records: EventEnvelope[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      records.push(JSON.parse(message.value!.toString('utf8')) as EventEnvelope);
    },
  });
  await waitFor('the whole topic', () => records.length >= high, { timeoutMs: 30_000 });
  await consumer.disconnect();
  return records;
}

/**
 * docs/RELIABILITY.md §3: an append whose acknowledgement is lost (the batch is in the log, the
 * producer's send fails) must not make the NEXT append to the same partition vanish. kafkajs'
 * idempotent producer gives a failed send's sequence number back; under the same producer id the
 * broker would take the next batch for a duplicate of the landed one and acknowledge it unwritten.
 */
describe('Kafka: an acknowledgement lost with the broker loses no later append', () => {
  let broker: Broker;
  let proxy: LostAckProxy;
  let brokerDir: string;
  let localDir: string;
  let store: KafkaEventStore | undefined;
  const topic = `lost-ack-${randomUUID().slice(0, 8)}`;

  before(async () => {
    const { startBroker, freePort } = await brokerModule();
    const brokerPort = await freePort();
    let proxyPort = await freePort();
    while (proxyPort === brokerPort) proxyPort = await freePort();
    proxy = await LostAckProxy.start(proxyPort, () => brokerPort);
    brokerDir = mkdtempSync(join(tmpdir(), 'parley-kafka-lost-ack-'));
    localDir = mkdtempSync(join(tmpdir(), 'parley-lost-ack-local-'));
    broker = await startBroker({
      port: brokerPort,
      dataDir: brokerDir,
      log: () => undefined,
      extraProperties: { 'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxyPort}` },
    });
    store = await KafkaEventStore.open({
      brokers: [`127.0.0.1:${proxyPort}`],
      clientId: 'lost-ack',
      topic,
      partitions: 1, // every run on one partition: one producer sequence
      localDir,
      log: () => undefined,
    });
  });
  after(async () => {
    await store?.close();
    await proxy?.close();
    await broker?.stop();
    if (brokerDir) removeDir(brokerDir);
    if (localDir) removeDir(localDir);
  });

  it('the landed batch is reconciled, the next run’s batch is written, nothing is forked', async () => {
    const s = store!;
    const warm = `run-${randomUUID()}`;
    await s.append(warm, 0, [note('warm-up: the producer has an id and a sequence')]);

    const runA = `run-${randomUUID()}`;
    const runB = `run-${randomUUID()}`;
    proxy.armLostAck();
    const started = Date.now();
    await assert.rejects(s.append(runA, 0, [note('A: lands, but its ack is lost')]), {
      code: 'EVENT_STORE.UNAVAILABLE',
    });
    const failedAfterMs = Date.now() - started;
    assert.equal(proxy.producesSwallowed, 1, 'the proxy lost one Produce acknowledgement');
    // While the brokers cannot be reached, new appends are refused at once and write nothing.
    const refusedAt = Date.now();
    await assert.rejects(s.append(runB, 0, [note('refused')]), { code: 'EVENT_LOG.UNAVAILABLE' });
    assert.ok(Date.now() - refusedAt < 500);

    proxy.lift();
    await waitFor('the log to be reachable again', () => s.reachabilityStatus().reachable, {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const stored = await s.append(runB, 0, [note('B: acknowledged, so it must be in the log')]);
    assert.equal(stored.length, 1);

    // The broker's log, read directly: B is there (not taken for a duplicate of A), A is there once.
    const records = await readTopic(broker.brokers, topic);
    const inTopic = (runId: string) => records.filter((e) => e.runId === runId);
    assert.deepEqual(
      inTopic(runB).map((e) => e.hash),
      stored.map((e) => e.hash),
      'the acknowledged append of run B is missing from the topic: its batch was taken for a duplicate',
    );
    assert.equal(inTopic(runA).length, 1, 'the batch whose acknowledgement was lost is in the log once');

    // The adapter reconciles A: the next append on it sees what landed, a retry at seq 0 conflicts.
    await assert.rejects(s.append(runA, 0, [note('A again, as if nothing had landed')]), {
      code: 'EVENT_STORE.CONCURRENCY',
    });
    assert.deepEqual(
      (await s.read(runA)).map((e) => e.hash),
      inTopic(runA).map((e) => e.hash),
    );
    assert.equal(s.reachabilityStatus().producersRetired, 1);
    process.stderr.write(
      `[kafka-lost-ack] ${JSON.stringify({ failedAfterMs, records: records.length, producersRetired: s.reachabilityStatus().producersRetired })}\n`,
    );
  });
});
