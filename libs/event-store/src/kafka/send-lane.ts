import { Partitioners, type Kafka, type KafkaMessage, type Producer, type RecordMetadata } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyError } from '@parley/contracts';
import type { KafkaReachability } from './kafka-reachability';
import { isUnreachableError } from './kafka-reachability';
import { encodeRecord, eventRecordId, recordId } from './record-codec';

/** An append waiting for its send (group commit, see `SendLane`). */
export interface QueuedSend {
  runId: string;
  events: EventEnvelope[];
  /** The records' values (the events' JSON), and their total length. */
  values: string[];
  bytes: number;
  /** The append checked the events' ids under the run's lock (see ApplyBatch). */
  idsChecked: boolean;
  /** Settled once the send is acknowledged AND the events are applied to the local store. */
  resolve: (outcome: { rejected: EventEnvelope[] }) => void;
  reject: (error: Error) => void;
}

/** Per append of a group: its error, or the events the local store rejected. */
export type SendOutcome = Error | { rejected: EventEnvelope[] };

/** Bounds on one grouped send (the broker's default message.max.bytes is 1 MiB per partition batch). */
const MAX_GROUP_RECORDS = 500;
const MAX_GROUP_BYTES = 512 * 1024;
/** The longest the consumer waits for the send in flight whose records it has fetched. */
const SEND_WAIT_MS = 1000;

/** The send in flight (see `SendLane.waitForSendOf`). */
class SendInFlight {
  /** Built when the consumer first asks (it usually meets the records after the send is over). */
  private ids?: Set<string>;
  private finish!: () => void;
  private readonly over = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(private readonly group: QueuedSend[]) {}

  has(id: string): boolean {
    if (!this.ids) {
      this.ids = new Set();
      for (const { runId, events } of this.group)
        for (const e of events) this.ids.add(eventRecordId(runId, e));
    }
    return this.ids.has(id);
  }

  end(): void {
    this.finish();
  }

  /** Resolves when the send is over, or after `ms` at most. */
  settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.over,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]).finally(() => clearTimeout(timer));
  }
}

export interface SendLaneDeps {
  kafka: Kafka;
  topic: string;
  reachability: KafkaReachability;
  closing: () => boolean;
  /** Throws 503 while the log is unreachable (nothing is sent then). */
  assertReachable: () => void;
  unavailable: (why: string) => ParleyError;
  partitionOf: (runId: string) => number | undefined;
  /** A send with an unknown outcome: the run's next append first catches up. */
  uncertain: (runId: string) => void;
  /** An acknowledged group: apply it locally (one transaction), notify, and say how each append went. */
  acknowledged: (
    group: QueuedSend[],
    partitions: Array<number | undefined>,
    acknowledged: RecordMetadata[],
  ) => SendOutcome[];
}

/**
 * The send lane: one `send` at a time of whole appends (one key, one partition, one record batch),
 * acks from all in-sync replicas.
 *
 * Why one at a time, and why a failed send retires the producer: kafkajs' idempotent producer
 * numbers each partition's batches and, when a send fails, gives its sequence number back. If the
 * failed batch did reach the log (its ack was lost: the broker was stopped or killed right after
 * writing it), the next batch sent to that partition under the same producer id reuses that
 * number, and the broker, which dedupes by (producer id, partition, sequence) alone, answers it
 * as a duplicate: acknowledged, never written. A lost acknowledged event. So no other send may
 * take a number while one is failing (the lane), and after a failure the next send goes through
 * a new producer (a new producer id, numbered from 0).
 *
 * Group commit, in the lane: while one send is in flight, the appends that arrive queue up, and
 * the next send carries all of them (up to MAX_GROUP_RECORDS / MAX_GROUP_BYTES): one Produce
 * request, one record batch per partition. One run at a time, a send carries one append; with many
 * runs appending at once, each waits for at most one send ahead of its own instead of one per run.
 * Every append of a failed send has an unknown outcome.
 */
export class SendLane {
  /** Replaced after a produce with an unknown outcome (see `retireProducer`). */
  private producer: Producer;
  private producerConnected = false;
  private producersRetired = 0;
  /** Appends waiting for the lane, and whether a send is in flight. */
  private readonly queue: QueuedSend[] = [];
  private sending = false;
  /** The send in flight: its records' ids (`recordId`), and when it is over (applied or failed). */
  private inFlight?: SendInFlight;
  /** Sends (Produce requests) made, and the appends and records they carried. */
  private readonly sends = { sends: 0, appends: 0, records: 0 };

  constructor(private readonly deps: SendLaneDeps) {
    this.producer = this.newProducer();
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.producerConnected = true;
  }

  /** Queue an append; resolves once it is acknowledged and applied locally. */
  send(runId: string, events: EventEnvelope[], idsChecked = false): Promise<{ rejected: EventEnvelope[] }> {
    const values = events.map((e) => JSON.stringify(e));
    const bytes = values.reduce((sum, v) => sum + v.length, 0);
    return new Promise((resolve, reject) => {
      this.queue.push({ runId, events, values, bytes, idsChecked, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  /**
   * Own records fetched before their send's acknowledgement was handled: the consumer waits for it
   * (a few ms), after which they are applied and known, rather than decoding and applying them.
   * Undefined when none of `messages` belongs to the send in flight.
   */
  waitForSendOf(messages: KafkaMessage[]): Promise<void> | undefined {
    const inFlight = this.inFlight;
    if (inFlight && messages.some((m) => inFlight.has(recordId(m)))) return inFlight.settled(SEND_WAIT_MS);
    return undefined;
  }

  stats(): { sends: number; appends: number; records: number } {
    return { ...this.sends };
  }

  retired(): number {
    return this.producersRetired;
  }

  async close(quietly: (what: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    if (this.producerConnected) await quietly('producer disconnect', () => this.producer.disconnect());
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const group: QueuedSend[] = [];
        let records = 0;
        let bytes = 0;
        while (this.queue.length > 0) {
          const next = this.queue[0];
          if (
            group.length > 0 &&
            (records + next.events.length > MAX_GROUP_RECORDS || bytes + next.bytes > MAX_GROUP_BYTES)
          )
            break;
          group.push(this.queue.shift()!);
          records += next.events.length;
          bytes += next.bytes;
        }
        this.sends.sends += 1;
        this.sends.appends += group.length;
        this.sends.records += records;
        const inFlight = (this.inFlight = new SendInFlight(group));
        let outcomes: SendOutcome[];
        try {
          outcomes = await this.produceNow(group);
        } finally {
          this.inFlight = undefined;
          inFlight.end();
        }
        group.forEach((item, i) => {
          const outcome = outcomes[i];
          if (outcome instanceof Error) item.reject(outcome);
          else item.resolve(outcome);
        });
      }
    } finally {
      this.sending = false;
    }
  }

  /**
   * One send of a group of appends, then (acknowledged) one local transaction applying all of them,
   * and the subscribers notified. Returns, per append, its error or the events the local store
   * rejected (another writer's events got there first).
   */
  private async produceNow(group: QueuedSend[]): Promise<SendOutcome[]> {
    const { topic, reachability } = this.deps;
    const everyone = (error: Error): Error[] => group.map(() => error);
    try {
      this.deps.assertReachable(); // queued behind a send that just failed: refuse, nothing was sent
    } catch (error) {
      return everyone(error as Error);
    }
    const producer = this.producer;
    if (!this.producerConnected) {
      try {
        await producer.connect();
        this.producerConnected = true;
      } catch (error) {
        // Nothing was sent: a refusal, not an unknown outcome.
        if (isUnreachableError(error)) reachability.fail('producer connect', error);
        this.retireProducer(producer);
        return everyone(this.deps.unavailable(`could not connect the producer: ${(error as Error).message}`));
      }
    }
    const started = Date.now();
    const partitions = group.map(({ runId }) => this.deps.partitionOf(runId));
    let acknowledged: RecordMetadata[];
    try {
      acknowledged = await producer.send({
        topic,
        acks: -1,
        messages: group.flatMap(({ runId, events, values }, g) =>
          events.map((e, i) => encodeRecord(runId, e, values[i], partitions[g])),
        ),
      });
      reachability.ok();
    } catch (error) {
      for (const { runId } of group) this.deps.uncertain(runId);
      this.retireProducer(producer);
      if (isUnreachableError(error)) reachability.fail('produce', error, started);
      return group.map(
        ({ runId, events }) =>
          new ParleyError(
            'EVENT_STORE.UNAVAILABLE',
            `Could not write ${events.length} event(s) of run ${runId} to Kafka topic ${topic}: ${(error as Error).message}. ` +
              'They may or may not have been stored; read the run again before retrying.',
            'unavailable',
            undefined,
            { runId },
          ),
      );
    }
    return this.deps.acknowledged(group, partitions, acknowledged);
  }

  private newProducer(): Producer {
    return this.deps.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // murmur2 of the key, as Java clients
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 3000 },
    });
  }

  /** The next send uses a new producer (a new producer id): see the class comment. */
  private retireProducer(producer: Producer): void {
    if (this.producer !== producer || this.deps.closing()) return;
    this.producer = this.newProducer();
    this.producerConnected = false;
    this.producersRetired += 1;
    void producer.disconnect().catch(() => undefined);
  }
}
