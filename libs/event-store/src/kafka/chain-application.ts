import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import { GENESIS_HASH } from '@parley/contracts';
import type { StreamHead } from '../event-store.port';
import type { SqliteLog } from '../sqlite/sqlite-log';
import type { StoreLog } from './store-log';

/** Events to apply to the local store, and the `meta` rows to write with them. */
export interface ApplyBatch {
  events: EventEnvelope[];
  /**
   * This instance's own append, whose event ids were checked under the run's lock (`append`):
   * the chain is still checked (another writer's events may have landed meanwhile), not the ids.
   */
  idsChecked?: boolean;
  meta?: Record<string, string>;
  /** Where an event came from, for warnings (a topic position, or `append`). */
  where?: (e: EventEnvelope) => string;
}

export interface ApplyResult {
  applied: number;
  /** What was stored, with its local positions, in order: handed to the subscribers as it is. */
  stored: StoredEvent[];
  /** Events that were not stored because the local chain already holds something else there. */
  rejected: EventEnvelope[];
}

/**
 * How events from the topic (or this instance's acknowledged sends) join the local store: each
 * (runId, seq) once, and only when it extends the stored chain of its run. The first version stored
 * wins; anything else is a split-brain write, logged and rejected.
 */
export class ChainApplication {
  /** `checkAndStore` of many batches in ONE transaction (one commit): a send group, a fetched batch. */
  readonly applyInTransaction: (batches: ApplyBatch[]) => ApplyResult[];

  constructor(
    private readonly log: SqliteLog,
    private readonly out: StoreLog,
  ) {
    this.applyInTransaction = log.db.transaction((batches: ApplyBatch[]) =>
      batches.map((b) => this.checkAndStore(b)),
    );
  }

  /** The stored hash of a run's event at `seq`. */
  hashAt(runId: string, seq: number): string | undefined {
    return this.log.hashAt(runId, seq);
  }

  /**
   * Store, in one SQLite transaction (with `meta`), the events that extend the local chain of their
   * run. A (runId, seq) already stored with the same hash is a duplicate (ignored silently); with a
   * different hash, or an event that does not link to the stored head, it is rejected with a
   * warning: the first version stored wins.
   */
  applyChecked(
    events: EventEnvelope[],
    meta?: Record<string, string>,
    where?: (e: EventEnvelope) => string,
  ): ApplyResult {
    return this.applyInTransaction([{ events, meta, where }])[0];
  }

  /** The body of `applyChecked`, inside a transaction the caller holds (see `applyInTransaction`). */
  private checkAndStore({ events, idsChecked, meta, where = () => 'append' }: ApplyBatch): ApplyResult {
    const heads = new Map<string, StreamHead | undefined>();
    const batchHashes = new Map<string, string>();
    const batchIds = new Set<string>();
    const accepted: EventEnvelope[] = [];
    const rejected: EventEnvelope[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const head = heads.has(event.runId) ? heads.get(event.runId) : this.log.head(event.runId);
      const headSeq = head?.seq ?? 0;
      if (event.seq <= headSeq) {
        const stored =
          batchHashes.get(`${event.runId}\u0000${event.seq}`) ?? this.hashAt(event.runId, event.seq);
        if (stored !== event.hash) {
          this.out.emit(
            `[kafka-event-store] split-brain write: run ${event.runId} seq ${event.seq} is stored with hash ${stored}, ` +
              `but ${where(event)} carries ${event.hash}; keeping the first`,
          );
          rejected.push(event);
        }
        continue;
      }
      if (event.seq !== headSeq + 1 || event.prevHash !== (head?.hash ?? GENESIS_HASH)) {
        this.out.emit(
          `[kafka-event-store] ${where(event)}: run ${event.runId} seq ${event.seq} does not extend the stored chain ` +
            `(head seq ${headSeq}); skipped`,
        );
        rejected.push(event);
        continue;
      }
      const idKey = `${event.runId}\u0000${event.eventId}`;
      if (
        batchIds.has(idKey) ||
        (!idsChecked && this.log.findByEventIds(event.runId, [event.eventId]).length > 0)
      ) {
        // The same fact under a second seq (two writers, or a retry produced after a lost ack):
        // every instance meets it at the same offset and skips it alike.
        this.out.emit(
          `[kafka-event-store] ${where(event)}: run ${event.runId} seq ${event.seq} repeats event id ${event.eventId}, ` +
            'already stored; skipped',
        );
        rejected.push(event);
        continue;
      }
      batchIds.add(idKey);
      accepted.push(event);
      heads.set(event.runId, { seq: event.seq, hash: event.hash });
      batchHashes.set(`${event.runId}\u0000${event.seq}`, event.hash);
    }
    const stored = this.log.applyOnceInTransaction(accepted, meta);
    return { applied: stored.length, stored, rejected };
  }
}
