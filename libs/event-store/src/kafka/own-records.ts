import type { KafkaMessage, RecordMetadata } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import { recordHash } from './record-codec';

/** Own records remembered per partition for the consumer to skip (beyond: it looks them up). */
const MAX_OWN_RECORDS = 100_000;

/**
 * Records this instance produced and has already applied, by partition and offset (from the send's
 * acknowledgement): their hash. The consumer reading them back skips them without a lookup.
 */
export class OwnRecords {
  private readonly byPartition = new Map<number, Map<number, string>>();

  /** The record is this instance's own append, applied when it was acknowledged. */
  has(partition: number, message: KafkaMessage): boolean {
    const mine = this.byPartition.get(partition)?.get(Number(message.offset));
    return mine !== undefined && mine === recordHash(message);
  }

  /** The consumer has passed `next`: forget what is before it. */
  passed(partition: number, next: number): void {
    const own = this.byPartition.get(partition);
    if (!own) return;
    for (const offset of own.keys()) {
      if (offset >= next) break; // remembered in offset order (sends go one at a time)
      own.delete(offset);
    }
    if (own.size === 0) this.byPartition.delete(partition);
  }

  /**
   * The offsets of the records of an acknowledged, applied group (each partition's batch starts at
   * its `baseOffset`, in the order sent), with their hashes. Only where the consumer has not passed
   * yet (`consumed`: its next offset in a partition), and not for an append the store rejected (the
   * consumer meets those as any other record).
   */
  remember(
    topic: string,
    group: Array<{ events: EventEnvelope[]; rejected: boolean }>,
    partitions: Array<number | undefined>,
    acknowledged: RecordMetadata[],
    consumed: (partition: number) => number | undefined,
  ): void {
    const next = new Map<number, number>();
    for (const m of acknowledged)
      if (m.topicName === topic && m.baseOffset !== undefined) next.set(m.partition, Number(m.baseOffset));
    group.forEach(({ events, rejected }, g) => {
      const partition = partitions[g];
      if (partition === undefined) return;
      const offset = next.get(partition);
      if (offset === undefined || !Number.isSafeInteger(offset)) return;
      next.set(partition, offset + events.length);
      if (rejected) return;
      if (offset < (consumed(partition) ?? 0)) return;
      let own = this.byPartition.get(partition);
      if (!own) this.byPartition.set(partition, (own = new Map()));
      if (own.size >= MAX_OWN_RECORDS) return; // the consumer is far behind: it looks them up
      events.forEach((e, i) => own.set(offset + i, e.hash));
    });
  }
}
