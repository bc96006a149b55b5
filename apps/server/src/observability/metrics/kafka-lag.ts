import { createKafka, type KafkaEventStore } from '@parley/event-store';
import type { Admin } from 'kafkajs';

/** How long one reading of the topic's high watermarks is reused (a scrape every few seconds is one call). */
const CACHE_MS = 5000;

/**
 * Kafka mode: per partition of `<prefix>.run-events`, the records the local store has not applied
 * yet: the topic's high watermark minus the next offset the store will read.
 */
export class KafkaLag {
  private admin?: Admin;
  private cached?: { at: number; lag: Record<number, number> };

  constructor(
    private readonly store: KafkaEventStore,
    private readonly brokers: string[],
    private readonly clientId: string,
  ) {}

  async lag(): Promise<Record<number, number>> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.lag;
    if (!this.admin) {
      this.admin = createKafka(`${this.clientId}-metrics`, this.brokers).admin();
      await this.admin.connect();
    }
    const highs = await this.admin.fetchTopicOffsets(this.store.topic);
    const next = this.store.offsets();
    const lag: Record<number, number> = {};
    for (const { partition, high } of highs)
      lag[partition] = Math.max(0, Number(high) - (next[partition] ?? 0));
    this.cached = { at: Date.now(), lag };
    return lag;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }
}
