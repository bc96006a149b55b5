import { createHmac } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { upcast } from '@parley/contracts';
import { createKafka, replicationFor, type EventStore, type Subscription } from '@parley/event-store';
import { notificationOf } from './notification';
import type { NotificationOutbox } from './notification-outbox';

/** The notifications topic of a deployment: `<PARLEY_KAFKA_TOPIC_PREFIX>.notifications`. */
export const notificationsTopic = (prefix = 'parley'): string => `${prefix}.notifications`;

export interface NotifierOptions {
  webhooks: string[];
  secret?: string;
  kafkaBrokers?: string[];
  /** Replicas of the notifications topic when created (at most the brokers). Default 3. */
  kafkaReplicationFactor?: number;
  /** Default `parley.notifications` (see `notificationsTopic`). */
  kafkaTopic?: string;
  clientId: string;
  maxAttempts?: number;
  /** First retry delay; doubles per attempt, up to 5 minutes. */
  backoffMs?: number;
  timeoutMs?: number;
  log: (line: string) => void;
  /**
   * Several instances on one Kafka log: only the run's owner notifies (every instance reads every
   * event). Default: every run is ours.
   */
  owns?: (runId: string) => boolean;
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Every new, decided or expired human request is published: to configured webhooks (HMAC-signed,
 * retried with backoff, failures recorded) and, when the log is Kafka, to a topic. It follows the log
 * through an outbox and never blocks a run.
 */
export class Notifier {
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private producer?: Producer;
  private readonly targets: string[];
  private readonly topic: string;
  /** The outbox's name for the Kafka target. */
  private readonly kafkaTarget: string;

  constructor(
    private readonly store: EventStore,
    private readonly outbox: NotificationOutbox,
    private readonly options: NotifierOptions,
  ) {
    this.topic = options.kafkaTopic ?? notificationsTopic();
    this.kafkaTarget = `kafka:${this.topic}`;
    this.targets = [...options.webhooks, ...(options.kafkaBrokers?.length ? [this.kafkaTarget] : [])];
  }

  async start(): Promise<void> {
    if (this.targets.length === 0) return;
    if (this.options.kafkaBrokers?.length) {
      const kafka = createKafka(`${this.options.clientId}-notifier`, this.options.kafkaBrokers);
      const admin = kafka.admin();
      await admin.connect();
      try {
        if (!(await admin.listTopics()).includes(this.topic)) {
          const replication = await replicationFor(admin, this.options.kafkaReplicationFactor);
          await admin
            .createTopics({
              topics: [
                {
                  topic: this.topic,
                  numPartitions: 3,
                  replicationFactor: replication.factor,
                  configEntries: [{ name: 'min.insync.replicas', value: String(replication.minInsync) }],
                },
              ],
              waitForLeaders: false,
            })
            .catch(() => undefined);
        }
      } finally {
        await admin.disconnect();
      }
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    this.subscription = this.store.subscribe(this.outbox.position(), (stored) => {
      let notification;
      try {
        notification = notificationOf(upcast(stored.event));
      } catch {
        notification = undefined;
      }
      const ours = this.options.owns?.(stored.event.runId) ?? true;
      const body = notification && ours ? JSON.stringify(notification) : undefined;
      this.outbox.enqueue(
        stored.position,
        body ? this.targets.map((target) => ({ target, body })) : [],
        new Date(),
      );
      if (body) this.schedule(0);
    });
    await this.subscription.ready;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscription?.close();
    await this.producer?.disconnect().catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.dispatch(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async dispatch(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (;;) {
        const due = this.outbox.due(Date.now());
        if (due.length === 0) break;
        await Promise.all(due.map((d) => this.deliver(d)));
      }
    } finally {
      this.running = false;
    }
    const next = this.outbox.nextDueAt();
    if (next !== undefined) this.schedule(next - Date.now());
  }

  private async deliver(d: { id: number; target: string; body: string; attempts: number }): Promise<void> {
    try {
      if (d.target.startsWith('kafka:')) {
        // the topic as recorded when the delivery was queued (an outbox written under another prefix)
        const { runId } = JSON.parse(d.body) as { runId: string };
        if (!this.producer)
          throw new Error('the event log is not Kafka (any more): no producer for this delivery');
        await this.producer.send({
          topic: d.target.slice('kafka:'.length),
          acks: -1,
          messages: [{ key: runId, value: d.body }],
        });
      } else {
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'x-parley-delivery': String(d.id),
        };
        if (this.options.secret) headers['x-parley-signature'] = signature(this.options.secret, d.body);
        const response = await fetch(d.target, {
          method: 'POST',
          headers,
          body: d.body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      }
      this.outbox.delivered(d.id, new Date());
    } catch (error) {
      const attempts = d.attempts + 1;
      const giveUp = attempts >= (this.options.maxAttempts ?? 8);
      const delay = Math.min((this.options.backoffMs ?? 1000) * 2 ** (attempts - 1), 300_000);
      const message = error instanceof Error ? error.message : String(error);
      this.outbox.retry(d.id, message, Date.now() + delay, giveUp);
      this.options.log(
        `notification ${d.id} to ${d.target} failed (attempt ${attempts}${giveUp ? ', giving up' : `, retry in ${delay} ms`}): ${message}`,
      );
    }
  }
}
