import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import type { LogSubscriptions } from '../subscriptions';
import type { CatchUp } from './catch-up';
import type { ChainApplication } from './chain-application';
import { restartWhenStopped } from './kafka-client';
import { isUnreachableError, type KafkaReachability } from './kafka-reachability';
import type { OffsetCheckpoints } from './offset-checkpoints';
import type { OwnRecords } from './own-records';
import { decodeRecord, recordHeaders } from './record-codec';
import type { SendLane } from './send-lane';
import type { StoreLog } from './store-log';

export interface MaterializerDeps {
  kafka: Kafka;
  topic: string;
  groupId: string;
  out: StoreLog;
  offsets: OffsetCheckpoints;
  own: OwnRecords;
  chain: ChainApplication;
  /** The send lane of a partition this instance writes, if it does. */
  sendOf: (partition: number) => SendLane | undefined;
  catchUp: CatchUp;
  reachability: KafkaReachability;
  subscriptions: LogSubscriptions;
  closing: () => boolean;
}

/**
 * The consumer that materialises the topic into the local store. Its group is throwaway (no committed
 * offsets are relied on): on every join it seeks each partition to the next offset recorded in the
 * local store, and applies what it reads through the chain application, the offsets in the same
 * SQLite transaction as the events.
 */
export class Materializer {
  private readonly consumer: Consumer;
  private started = false;
  /** Set while kafkajs has stopped the consumer for good (until restartWhenStopped has it running again). */
  private stopped: Error | undefined;
  private readonly counters = {
    recordsConsumed: 0,
    eventsApplied: 0,
    duplicates: 0,
    rejected: 0,
    badRecords: 0,
  };

  constructor(private readonly deps: MaterializerDeps) {
    this.consumer = deps.kafka.consumer({
      groupId: deps.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
      // The group has one member (this instance). After a broker restart, its rejoin waits for the
      // member it replaces to time out: keep that short (the broker's minimum is usually 6 s), so
      // the local store catches up seconds after an outage, not 30 s (the default).
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async (error) => {
          deps.out.emit(`[kafka-event-store] consumer failed, restarting: ${error.message}`);
          return true;
        },
      },
    });
  }

  /** Why catching up cannot succeed now (kafkajs stopped the consumer), if it cannot. */
  failure(): Error | undefined {
    return this.stopped;
  }

  /** The group's id, once it was joined (the store deletes it at close). */
  joinedGroup(): string | undefined {
    return this.started ? this.deps.groupId : undefined;
  }

  async start(): Promise<void> {
    const { topic, out, offsets } = this.deps;
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.stopped = undefined; // running again after a stop (see restartWhenStopped)
      // A new generation starts from the group's committed offsets (none: fromBeginning). Seek
      // every partition the local store has seen to where it left off instead.
      for (const [partition, offset] of offsets.entries()) {
        try {
          this.consumer.seek({ topic, partition, offset: String(offset) });
        } catch (error) {
          out.emit(
            `[kafka-event-store] seek ${topic}/${partition} to ${offset} failed: ${(error as Error).message}`,
          );
        }
      }
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      const closing = this.deps.closing();
      // kafkajs reports a crash after its retries: it counts unless the brokers answered in the last 2 s.
      if (!closing && isUnreachableError(error))
        this.deps.reachability.fail('consumer', error, Date.now() - 2000);
      out.emit(
        `[kafka-event-store] consumer crashed (${restart ? 'restarting' : 'stopped'}): ${error.message}`,
      );
      if (!restart && !closing) {
        // Until restartWhenStopped has it running again: catching up fails at once, not after a timeout.
        this.stopped = error;
        this.deps.catchUp.failAll(error);
      }
    });
    // A fetch that held only control records (a transaction's commit or abort marker) or aborted
    // records reaches no eachBatch: kafkajs reports it here. The local store's next offset must pass
    // them, or a catch-up to the high watermark would wait for them forever.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
      const { partition, batchSize, lastOffset } = event.payload;
      if (this.deps.closing() || batchSize !== 0 || lastOffset == null) return;
      const next = Number(lastOffset) + 1;
      if ((offsets.next(partition) ?? 0) >= next) return;
      offsets.skipped(partition, next);
      this.deps.catchUp.check();
    });
    const run = () =>
      this.consumer.run({
        autoCommit: false, // the local store holds the offsets, in the same transaction as the events
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch, isRunning, isStale }) => {
          if (this.deps.closing() || !isRunning() || isStale() || batch.messages.length === 0) return;
          const ownSend = this.deps.sendOf(batch.partition)?.waitForSendOf(batch.messages);
          if (ownSend) await ownSend;
          if (this.deps.closing() || !isRunning() || isStale()) return;
          // Past the batch's last record, control records (commit markers) included.
          this.consumeBatch(batch.partition, batch.messages, Number(batch.lastOffset()) + 1);
        },
      });
    restartWhenStopped(
      this.consumer,
      async () => {
        await this.consumer.connect();
        await run();
      },
      { closing: this.deps.closing, log: out.emit, name: 'event-log' },
    );
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true });
    this.started = true;
    await run();
  }

  /** Decode, check and apply one fetched batch. A bad record is logged and skipped (its offset still advances). */
  private consumeBatch(partition: number, messages: KafkaMessage[], next: number): void {
    const { topic, out, offsets, own, chain } = this.deps;
    const events: EventEnvelope[] = [];
    const where = new Map<EventEnvelope, string>();
    let known = 0;
    for (const message of messages) {
      if (own.has(partition, message)) {
        known += 1; // this instance's own append, applied when it was acknowledged
        continue;
      }
      if (this.isStored(message)) {
        known += 1; // read back before its acknowledgement was handled, or a producer retry: nothing to decode
        continue;
      }
      const at = `${topic}/${partition}@${message.offset}`;
      const event = this.decode(message, at);
      if (event) {
        events.push(event);
        where.set(event, at);
      }
    }
    own.passed(partition, next);
    this.counters.recordsConsumed += messages.length;
    this.counters.badRecords += messages.length - known - events.length;
    this.counters.duplicates += known;
    if (events.length === 0) {
      // Nothing to store: the offset is written later (a crash before that re-reads these records,
      // which are recognised as stored again), not in a commit per fetched batch.
      offsets.skipped(partition, next);
      this.deps.catchUp.check();
      return;
    }
    const meta = offsets.commitMeta(partition, next);
    try {
      const { applied, stored, rejected } = chain.applyChecked(events, meta, (e) => where.get(e) ?? '?');
      offsets.committed(partition, next);
      this.counters.eventsApplied += applied;
      this.counters.rejected += rejected.length;
      this.counters.duplicates += events.length - applied - rejected.length;
      if (applied > 0) this.deps.subscriptions.notify(stored);
    } catch (error) {
      // Only a local storage failure lands here (the store is closing, disk full...). Do not
      // advance: the batch is fetched again after the consumer restarts.
      out.emit(
        `[kafka-event-store] could not apply ${topic}/${partition} up to offset ${next - 1}: ${(error as Error).message}`,
      );
      throw error;
    }
    this.deps.catchUp.check();
  }

  /**
   * Whether the record is already in the local store, told from its key and headers alone (run, seq
   * and hash: written by every Parley producer) without parsing its value. A record without them, or
   * whose hash differs from the stored one, is decoded and checked in full.
   */
  private isStored(message: KafkaMessage): boolean {
    const id = recordHeaders(message);
    if (!id) return false;
    return this.deps.chain.hashAt(id.runId, id.seq) === id.hash;
  }

  private decode(message: KafkaMessage, at: string): EventEnvelope | undefined {
    try {
      return decodeRecord(message);
    } catch (error) {
      this.deps.out.emit(`[kafka-event-store] skipping bad record at ${at}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * What the consumer has done since this instance opened: records read from the topic, events
   * they added to the local store, duplicates ignored, records rejected (split brain / unlinked),
   * undecodable records skipped. Appends applied directly are not counted.
   */
  stats(): {
    recordsConsumed: number;
    eventsApplied: number;
    duplicates: number;
    rejected: number;
    badRecords: number;
  } {
    return { ...this.counters };
  }

  async close(quietly: (what: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    if (this.started) await quietly('consumer disconnect', () => this.consumer.disconnect());
  }
}
