import type { KafkaMessage, Producer, RecordMetadata } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import { NotOwnerError, ParleyError } from '@parley/contracts';
import type { KafkaReachability } from './kafka-reachability';
import { isUnreachableError } from './kafka-reachability';
import { isFencedError } from './fencing';
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
  topic: string;
  /** The partition this lane writes (every append it takes is of a run of that partition). */
  partition: number;
  reachability: KafkaReachability;
  closing: () => boolean;
  /** Throws 503 while the log is unreachable (nothing is sent then). */
  assertReachable: () => void;
  unavailable: (why: string) => ParleyError;
  /** A transactional producer with the partition's `transactional.id` (see `fencing.ts`). */
  newProducer: () => Producer;
  /**
   * After the producer is (re)initialised (which fences every other holder of the partition's
   * transactional id and aborts its open transaction): resolves once the local store holds every
   * committed record of the partition.
   */
  caughtUp: () => Promise<void>;
  /** The append still extends the run's local head (checked before every send). */
  extendsHead: (runId: string, events: EventEnvelope[]) => boolean;
  /** A send with an unknown outcome: the run's next append first catches up. */
  uncertain: (runId: string) => void;
  /** The broker refused this lane's producer: another instance has claimed the partition. */
  fenced: (partition: number, error: Error) => void;
  /** An acknowledged group: apply it locally (one transaction), notify, and say how each append went. */
  acknowledged: (group: QueuedSend[], partition: number, acknowledged: RecordMetadata[]) => SendOutcome[];
}

/**
 * The send lane of one partition: one transaction at a time of whole appends, acks from all in-sync
 * replicas, through a transactional producer whose `transactional.id` belongs to the partition.
 *
 * Fencing. Whoever owns a partition claims its lane: the producer's InitProducerId bumps the id's
 * epoch, so the broker refuses every later send or commit of a previous owner's producer (a process
 * that was paused, not dead, and still believes it owns the partition) and aborts its open
 * transaction. Only after that does the lane catch up with the partition, then it sends; so no
 * record can reach the partition from anyone who has not read everything committed before it. A
 * fenced lane is dead: its appends fail with `NotOwnerError` and the store reports the partition
 * lost (`fenced`); the instance claims it again only when the owners' group assigns it anew.
 *
 * Why one transaction at a time, and why a failed one retires the producer: kafkajs numbers each
 * partition's batches and gives a failed batch's number back; a batch that did reach the log while
 * its acknowledgement was lost would make the next batch a "duplicate" the broker acknowledges
 * without writing. After a failure of unknown outcome the lane claims the partition again with a new
 * producer (same transactional id: a new epoch, which also aborts its own transaction if still
 * open), catches up (reading whatever did commit), and checks each queued append against the local
 * head again before sending it.
 *
 * Group commit: while one transaction is in flight, the appends that arrive queue up, and the next
 * one carries all of them (up to MAX_GROUP_RECORDS / MAX_GROUP_BYTES). Every append of a failed
 * transaction has an unknown outcome.
 */
export class SendLane {
  private producer?: Producer;
  /** The lane may send: its producer is initialised and the partition caught up since. */
  private ready = false;
  /** Why the lane refuses everything from now on (fenced, released, closed). */
  private dead?: Error;
  private producersRetired = 0;
  /** Appends waiting for the lane, and whether a send is in flight. */
  private readonly queue: QueuedSend[] = [];
  private sending = false;
  /** The send in flight: its records' ids (`recordId`), and when it is over (applied or failed). */
  private inFlight?: SendInFlight;
  /** Transactions made, and the appends and records they carried. */
  private readonly sends = { sends: 0, appends: 0, records: 0 };

  constructor(private readonly deps: SendLaneDeps) {}

  /** Initialise the producer (fencing any other) and catch up: the lane may then send. */
  async claim(): Promise<void> {
    await this.initialise();
  }

  /** Queue an append; resolves once it is committed and applied locally. */
  send(runId: string, events: EventEnvelope[], idsChecked = false): Promise<{ rejected: EventEnvelope[] }> {
    if (this.dead) return Promise.reject(new NotOwnerError(runId, this.dead.message));
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

  isDead(): boolean {
    return this.dead !== undefined;
  }

  /** Refuse everything from now on (the partition is no longer ours, or the store closes). */
  async close(
    why: string,
    quietly: (what: string, fn: () => Promise<unknown>) => Promise<void>,
  ): Promise<void> {
    this.dead ??= new Error(why);
    const producer = this.producer;
    this.producer = undefined;
    this.ready = false;
    if (producer)
      await quietly(`producer of partition ${this.deps.partition} disconnect`, () => producer.disconnect());
  }

  private async initialise(): Promise<void> {
    if (this.dead) throw this.dead;
    const producer = this.deps.newProducer();
    this.producer = producer;
    this.ready = false;
    await producer.connect();
    // kafkajs sends InitProducerId with the transactional id at the first transaction: a transaction
    // with nothing in it claims the id (and ends without a request to the broker).
    const claim = await producer.transaction();
    await claim.abort();
    if (this.producer !== producer || this.dead) {
      await producer.disconnect().catch(() => undefined);
      throw this.dead ?? new Error('superseded');
    }
    await this.deps.caughtUp();
    this.ready = true;
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
        let outcomes: SendOutcome[];
        const inFlight = (this.inFlight = new SendInFlight(group));
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
   * One transaction of a group of appends, then (committed) one local transaction applying all of
   * them, and the subscribers notified. Returns, per append, its error or the events the local
   * store rejected.
   */
  private async produceNow(group: QueuedSend[]): Promise<SendOutcome[]> {
    const { topic, reachability, partition } = this.deps;
    const everyone = (error: Error): Error[] => group.map(() => error);
    const notOwner = (): Error[] =>
      group.map(
        ({ runId }) => new NotOwnerError(runId, this.dead?.message ?? 'the partition is not claimed'),
      );
    if (this.dead) return notOwner();
    try {
      this.deps.assertReachable(); // queued behind a send that just failed: refuse, nothing was sent
    } catch (error) {
      return everyone(error as Error);
    }
    if (!this.ready) {
      try {
        await this.initialise();
      } catch (error) {
        if (this.dead) return notOwner();
        // Nothing was sent: a refusal, not an unknown outcome.
        if (isUnreachableError(error)) reachability.fail('producer connect', error);
        this.retireProducer();
        return everyone(
          this.deps.unavailable(`could not claim partition ${partition}: ${(error as Error).message}`),
        );
      }
    }
    // Checked under each run's lock before it was queued; checked again here, after any re-claim.
    const stale = group.map(({ runId, events }) => !this.deps.extendsHead(runId, events));
    const sending = group.filter((_, i) => !stale[i]);
    const outcomes: Array<SendOutcome | undefined> = group.map((item, i) =>
      stale[i] ? { rejected: item.events } : undefined,
    );
    if (sending.length === 0) return outcomes as SendOutcome[];
    const records = sending.reduce((n, { events }) => n + events.length, 0);
    this.sends.sends += 1;
    this.sends.appends += sending.length;
    this.sends.records += records;
    const producer = this.producer!;
    const started = Date.now();
    let acknowledged: RecordMetadata[];
    try {
      const transaction = await producer.transaction();
      try {
        acknowledged = await transaction.send({
          topic,
          acks: -1,
          messages: sending.flatMap(({ runId, events, values }) =>
            events.map((e, i) => encodeRecord(runId, e, values[i], partition)),
          ),
        });
        await transaction.commit();
      } catch (error) {
        if (!isFencedError(error) && transaction.isActive()) await transaction.abort().catch(() => undefined); // the new epoch of a re-claim aborts it otherwise
        throw error;
      }
      reachability.ok();
    } catch (error) {
      // Fenced or not, what was sent may have committed (a commit whose answer was lost, then the
      // fence): the runs' next appends catch up first, and the consumer applies whatever landed.
      for (const { runId } of sending) this.deps.uncertain(runId);
      if (isFencedError(error)) {
        this.fence(error as Error);
        return group.map((item, i) => outcomes[i] ?? new NotOwnerError(item.runId, this.dead!.message));
      }
      this.retireProducer();
      if (isUnreachableError(error)) await reachability.confirmFailure('produce', error, started);
      return group.map(
        ({ runId, events }, i) =>
          outcomes[i] ??
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
    const applied = this.deps.acknowledged(sending, partition, acknowledged);
    let next = 0;
    return group.map((_, i) => outcomes[i] ?? applied[next++]);
  }

  /** Another instance claimed the partition: this lane is dead, and the store is told. */
  private fence(error: Error): void {
    if (this.dead) return;
    this.dead = new Error(
      `the broker fenced this instance's writes to partition ${this.deps.partition}: another instance claimed it`,
    );
    const producer = this.producer;
    this.producer = undefined;
    this.ready = false;
    void producer?.disconnect().catch(() => undefined);
    for (const item of this.queue.splice(0)) item.reject(new NotOwnerError(item.runId, this.dead.message));
    this.deps.fenced(this.deps.partition, error);
  }

  /** The next send claims the partition again with a new producer: see the class comment. */
  private retireProducer(): void {
    const producer = this.producer;
    this.producer = undefined;
    this.ready = false;
    if (this.deps.closing()) return;
    this.producersRetired += 1;
    void producer?.disconnect().catch(() => undefined);
  }
}
