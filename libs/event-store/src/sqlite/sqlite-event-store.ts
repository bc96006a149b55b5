import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';
import { ConcurrencyError } from '@parley/contracts';
import type { EventLogReachability, EventStore } from '../event-store.port';
import { checkEventIds } from '../idempotency';
import { assertImportable } from '../import-check';
import { sealBatch, type SealContext, defaultSealContext } from '../seal';
import { LocalLogStore } from '../local-log-store';

export interface SqliteEventStoreOptions {
  /** A folder (the file is `events.db` inside it), or `:memory:`. */
  dataDir: string;
  seal?: SealContext;
}

/** SQLite is in-process: reachable since the process started, never down. */
const startedAt = new Date().toISOString();

interface PendingAppend {
  runId: string;
  expectedSeq: number;
  events: NewEvent[];
  resolve: (events: EventEnvelope[]) => void;
  reject: (error: unknown) => void;
}

/** The embedded event log: the default on one machine, no infrastructure needed. */
export class SqliteEventStore extends LocalLogStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly seal: SealContext;
  private readonly pending: PendingAppend[] = [];
  private readonly flushTransaction: (
    batch: PendingAppend[],
    outcomes: Array<{ sealed: EventEnvelope[]; positions: number[] } | { error: unknown }>,
  ) => void;

  constructor(options: SqliteEventStoreOptions) {
    super(options.dataDir);
    this.seal = options.seal ?? defaultSealContext;
    const one = this.log.db.transaction((item: PendingAppend) => this.appendOne(item));
    this.flushTransaction = this.log.db.transaction(
      (
        batch: PendingAppend[],
        outcomes: Array<{ sealed: EventEnvelope[]; positions: number[] } | { error: unknown }>,
      ) => {
        if (batch.length === 1) {
          // Alone in its transaction: a failed check has written nothing, no savepoint needed.
          try {
            outcomes.push(this.appendOne(batch[0]));
          } catch (error) {
            outcomes.push({ error });
          }
          return;
        }
        for (const item of batch) {
          try {
            outcomes.push(one(item)); // nested: a savepoint per append
          } catch (error) {
            outcomes.push({ error });
          }
        }
      },
    );
  }

  /**
   * Appends arriving in the same tick share one transaction (group commit): each is checked and
   * written in its own savepoint, so a stale `expectedSeq` fails that append alone and writes
   * nothing of it, while the others commit together.
   */
  append(runId: string, expectedSeq: number, events: NewEvent[]): Promise<EventEnvelope[]> {
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ runId, expectedSeq, events, resolve, reject });
      if (this.pending.length === 1) queueMicrotask(() => this.flush());
    });
  }

  /**
   * One append, checked against the head and written, inside the flush's transaction. A repeat of
   * stored event ids returns the stored events and writes nothing (see `checkEventIds`); `positions`
   * is then empty, so nothing is notified again.
   */
  private appendOne(item: PendingAppend): { sealed: EventEnvelope[]; positions: number[] } {
    const verdict = checkEventIds(item.runId, item.events, (ids) => this.log.findByEventIds(item.runId, ids));
    if (verdict.kind === 'repeat') return { sealed: verdict.stored, positions: [] };
    const head = this.log.head(item.runId);
    const actual = head?.seq ?? 0;
    if (actual !== item.expectedSeq) throw new ConcurrencyError(item.runId, item.expectedSeq, actual);
    const sealed = sealBatch(item.runId, head, item.events, this.seal); // validates before anything is written
    return { sealed, positions: this.log.insertRows(sealed) };
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    const outcomes: Array<{ sealed: EventEnvelope[]; positions: number[] } | { error: unknown }> = [];
    try {
      this.flushTransaction(batch, outcomes);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    const stored: StoredEvent[] = [];
    for (const outcome of outcomes) {
      if ('sealed' in outcome)
        outcome.positions.forEach((position, i) => stored.push({ position, event: outcome.sealed[i] }));
    }
    if (stored.length) this.subscriptions.notify(stored);
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if ('sealed' in outcome) item.resolve(outcome.sealed);
      else item.reject(outcome.error);
    });
  }

  async importStream(runId: string, events: EventEnvelope[]): Promise<void> {
    assertImportable(runId, events);
    const positions = this.log.insert(events, () => {
      const head = this.log.head(runId);
      if (head) throw new ConcurrencyError(runId, 0, head.seq);
    });
    this.subscriptions.notify(events.map((event, i) => ({ position: positions[i], event })));
  }

  /** The store is its own log: reads already include everything it holds. */
  async waitForCatchUp(): Promise<void> {}

  reachabilityStatus(): EventLogReachability {
    return { kind: 'sqlite', reachable: true, since: startedAt, outages: 0 };
  }

  assertReachable(): void {}

  /** Never changes. */
  onReachabilityChange(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.subscriptions.closeAll();
    this.log.close();
  }
}
