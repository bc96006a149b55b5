import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { KafkaEventStore } from '@parley/event-store';
import { readCommittedTopic, waitFor } from '@parley/testing';
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
  /** The API key of the request whose response is lost next (0 Produce, 26 EndTxn), if armed. */
  private armed: number | undefined;
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

  /** Lose the answer to the next request of `apiKey` (Produce: 0, EndTxn: 26), then refuse connections until `lift()`. */
  armLostAck(apiKey: number): void {
    this.armed = apiKey;
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
      if (this.armed === apiKey) {
        this.armed = undefined;
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

/**
 * docs/RELIABILITY.md §3: an append whose acknowledgement is lost must not make the NEXT append to
 * the same partition vanish (kafkajs gives a failed send's sequence number back; under the same
 * producer the broker would take the next batch for a duplicate of the landed one and acknowledge it
 * unwritten), nor fork its run. An append is a transaction: with the Produce answer lost, the batch
 * is in the partition but never committed (the store's next claim aborts it), so the run's retry is
 * written; with the commit's answer lost, it is committed, and the retry finds it.
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

  async function loseAnswer(apiKey: number, runA: string, runB: string): Promise<{ failedAfterMs: number }> {
    const s = store!;
    proxy.armLostAck(apiKey);
    const started = Date.now();
    await assert.rejects(s.append(runA, 0, [note('A: its answer is lost')]), {
      code: 'EVENT_STORE.UNAVAILABLE',
    });
    const failedAfterMs = Date.now() - started;
    // While the brokers cannot be reached, new appends are refused at once (not after the client's
    // retries, which took failedAfterMs) and write nothing. The bound is loose: a loaded machine is slow.
    try {
      const refusedAt = Date.now();
      await assert.rejects(s.append(runB, 0, [note('refused')]), { code: 'EVENT_LOG.UNAVAILABLE' });
      const refusedMs = Date.now() - refusedAt;
      assert.ok(refusedMs < Math.min(3000, failedAfterMs / 2), `refused in ${refusedMs} ms, not at once`);
    } finally {
      proxy.lift(); // also when the check fails: an armed proxy would hold the store's close forever
    }
    await waitFor('the log to be reachable again', () => s.reachabilityStatus().reachable, {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    return { failedAfterMs };
  }

  it('the Produce answer lost: the batch is never committed, the retry is written, the next run’s batch too', async () => {
    const s = store!;
    await s.append(`run-${randomUUID()}`, 0, [note('warm-up: the producer has an id and a sequence')]);
    const runA = `run-${randomUUID()}`;
    const runB = `run-${randomUUID()}`;
    const swallowed = proxy.producesSwallowed;
    const { failedAfterMs } = await loseAnswer(0, runA, runB);
    assert.equal(proxy.producesSwallowed, swallowed + 1, 'the proxy lost one Produce answer');
    const stored = await s.append(runB, 0, [note('B: acknowledged, so it must be in the log')]);
    const retried = await s.append(runA, 0, [note('A again')]);

    const records = await readCommittedTopic([broker.brokers], topic);
    const inTopic = (runId: string) => records.filter((e) => e.runId === runId).map((e) => e.hash);
    assert.deepEqual(
      inTopic(runB),
      stored.map((e) => e.hash),
      'the acknowledged append of run B is in the topic',
    );
    assert.deepEqual(
      inTopic(runA),
      retried.map((e) => e.hash),
      'A once: the retry, not the aborted batch',
    );
    assert.deepEqual(
      (await s.read(runA)).map((e) => e.hash),
      inTopic(runA),
    );
    assert.equal(s.reachabilityStatus().producersRetired, 1);
    process.stderr.write(
      `[kafka-lost-ack] produce answer lost: ${JSON.stringify({ failedAfterMs, records: records.length })}\n`,
    );
  });

  it('the commit’s answer lost: the batch is committed, the retry finds it, nothing is forked', async () => {
    const s = store!;
    const runA = `run-${randomUUID()}`;
    const runB = `run-${randomUUID()}`;
    const { failedAfterMs } = await loseAnswer(26, runA, runB);
    const stored = await s.append(runB, 0, [note('B: acknowledged, so it must be in the log')]);
    // The store reconciles A: the next append on it sees what landed, a retry at seq 0 conflicts.
    await assert.rejects(s.append(runA, 0, [note('A again, as if nothing had landed')]), {
      code: 'EVENT_STORE.CONCURRENCY',
    });
    const records = await readCommittedTopic([broker.brokers], topic);
    const inTopic = (runId: string) => records.filter((e) => e.runId === runId).map((e) => e.hash);
    assert.deepEqual(
      inTopic(runB),
      stored.map((e) => e.hash),
    );
    assert.equal(inTopic(runA).length, 1, 'the batch whose commit answer was lost is in the log once');
    assert.deepEqual(
      (await s.read(runA)).map((e) => e.hash),
      inTopic(runA),
    );
    process.stderr.write(
      `[kafka-lost-ack] commit answer lost: ${JSON.stringify({ failedAfterMs, records: records.length })}\n`,
    );
  });
});
