import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Kafka } from 'kafkajs';
import { ParleyProcess, waitFor } from '@parley/testing';

interface Received {
  body: string;
  signature: string | undefined;
  json: { type: string; requestId: string; runId: string; kind?: string; outcome?: string };
}

/** A real webhook receiver that fails its first `failures` deliveries with HTTP 500. */
async function receiver(
  failures: number,
): Promise<{ url: string; received: Received[]; refused: number; close(): Promise<void> }> {
  const state = { received: [] as Received[], refused: 0 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (state.refused < failures) {
      state.refused += 1;
      res.writeHead(500).end('not now');
      return;
    }
    const body = Buffer.concat(chunks).toString();
    state.received.push({
      body,
      signature: req.headers['x-parley-signature'] as string | undefined,
      json: JSON.parse(body),
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/parley`,
    received: state.received,
    get refused() {
      return state.refused;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('notifications of human requests', () => {
  const secret = 'webhook-secret-for-tests';
  let hook: Awaited<ReturnType<typeof receiver>>;
  let server: ParleyProcess;

  before(async () => {
    hook = await receiver(2);
    server = await ParleyProcess.start({
      env: { PARLEY_WEBHOOKS: hook.url, PARLEY_WEBHOOK_SECRET: secret, PARLEY_WEBHOOK_BACKOFF_MS: '50' },
    });
  });
  after(async () => {
    await server.dispose();
    await hook.close();
  });

  it('posts signed webhooks for opened and resolved requests, retrying failures without blocking the run', async () => {
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $180 for order #N1' });
    const runId: string = body.runId;
    const opened = await waitFor('the opened notification', () =>
      hook.received.find((r) => r.json.runId === runId && r.json.type === 'request.opened'),
    );
    assert.equal(hook.refused, 2, 'the first two deliveries failed and were retried');
    assert.equal(
      opened.signature,
      `sha256=${createHmac('sha256', secret).update(opened.body).digest('hex')}`,
    );
    assert.equal(opened.json.kind, 'approval');
    await server
      .client('alice')
      .post(`/api/requests/${opened.json.requestId}/decision`, { decision: 'approve' });
    const resolved = await waitFor('the resolved notification', () =>
      hook.received.find((r) => r.json.runId === runId && r.json.type === 'request.resolved'),
    );
    assert.equal(resolved.json.outcome, 'approve');
    const deliveries = (await server.client('admin').get('/api/notifications')).body.deliveries as Array<{
      attempts: number;
      status: string;
      lastError: string | null;
    }>;
    assert.ok(
      deliveries.some((d) => d.status === 'delivered' && d.attempts === 3),
      'the failed attempts are recorded with the delivery',
    );
    assert.equal((await server.client('alice').get('/api/notifications')).status, 403, 'operators only');
  });

  it('a cancelled run closes its open request, and the webhook says so', async () => {
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $190 for order #N2' });
    const runId: string = body.runId;
    const opened = await waitFor('the opened notification', () =>
      hook.received.find((r) => r.json.runId === runId && r.json.type === 'request.opened'),
    );
    const cancel = await server.client('carol').post(`/api/runs/${runId}/cancel`, { reason: 'withdrawn' });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    const closed = await waitFor('the closed notification', () =>
      hook.received.find((r) => r.json.runId === runId && r.json.type === 'request.closed'),
    );
    assert.equal(closed.json.requestId, opened.json.requestId);
    assert.equal(closed.json.outcome, 'cancelled');
  });

  it('refuses a bad webhook setting with a clear message', async () => {
    await assert.rejects(
      ParleyProcess.start({ env: { PARLEY_WEBHOOKS: 'ftp://nowhere' } }),
      /PARLEY_WEBHOOKS: "ftp:\/\/nowhere" is not an http\(s\) URL/,
    );
  });
});

describe('notifications on the Kafka topic when the log is Kafka', () => {
  /** Start a Kafka-log server (with `env`), start a refund that waits, return where its notifications went. */
  async function notificationsOf(
    env: Record<string, string>,
    topics: string[],
  ): Promise<{ runId: string; seen: Array<{ topic: string; type: string; runId: string }> }> {
    const brokers = process.env.KAFKA_BROKERS;
    assert.ok(brokers && brokers.includes(':'), 'KAFKA_BROKERS must point at the test broker');
    const server = await ParleyProcess.start({
      eventLog: 'kafka',
      env: { KAFKA_BROKERS: brokers, PARLEY_INSTANCE_ID: `n-${randomUUID().slice(0, 8)}`, ...env },
    });
    const kafka = new Kafka({ clientId: 'notifications-test', brokers: brokers.split(','), logLevel: 1 });
    const consumer = kafka.consumer({ groupId: `notifications-test-${randomUUID()}` });
    const seen: Array<{ topic: string; type: string; runId: string }> = [];
    try {
      const { body } = await server
        .client('carol')
        .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $160 for order #K1' });
      await consumer.connect();
      const admin = kafka.admin();
      await admin.connect();
      const existing = await admin.listTopics();
      await admin.disconnect();
      await consumer.subscribe({ topics: topics.filter((t) => existing.includes(t)), fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) =>
          void seen.push({
            topic,
            ...(JSON.parse(message.value!.toString()) as { type: string; runId: string }),
          }),
      });
      await waitFor(
        'the opened notification on Kafka',
        () => seen.find((n) => n.runId === body.runId && n.type === 'request.opened'),
        { timeoutMs: 30_000 },
      );
      return { runId: body.runId as string, seen };
    } finally {
      await consumer.disconnect();
      await server.dispose();
    }
  }

  it('publishes request notifications to parley.notifications', async () => {
    const { runId, seen } = await notificationsOf({}, ['parley.notifications']);
    const opened = seen.find((n) => n.runId === runId && n.type === 'request.opened');
    assert.equal(opened?.topic, 'parley.notifications');
  });

  it('with PARLEY_KAFKA_TOPIC_PREFIX, to <prefix>.notifications and not to parley.notifications', async () => {
    const prefix = `notif-${randomUUID().slice(0, 8)}`;
    const { runId, seen } = await notificationsOf({ PARLEY_KAFKA_TOPIC_PREFIX: prefix }, [
      `${prefix}.notifications`,
      'parley.notifications',
    ]);
    const ours = seen.filter((n) => n.runId === runId);
    assert.ok(ours.length > 0);
    assert.deepEqual([...new Set(ours.map((n) => n.topic))], [`${prefix}.notifications`]);
  });
});
