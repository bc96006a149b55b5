import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';
import { ConcurrencyError } from '@parley/contracts';
import type { EventLogReachability, EventStore, ReachabilityChange } from '../event-store.port';
import { SqliteWritability, storageFaultOf } from './storage-fault';
import { checkEventIds } from '../idempotency';
import { ImportChecker, assertImportable } from '../import-check';
import { sealBatch, type SealContext, defaultSealContext } from '../seal';
import { LocalLogStore } from '../local-log-store';
import type { SqliteSync } from './sqlite-log';

export interface SqliteEventStoreOptions {
  /** A folder (the file is `events.db` inside it), or `:memory:`. */
  dataDir: string;
  seal?: SealContext;
  /** Default `full`: an acknowledged append survives a power cut (`normal`: the last ones may not). */
  synchronous?: SqliteSync;
  /** While the storage refuses writes, how often a probe write tries it again. Default 500 ms. */
  probeMs?: number;
  /**
   * The log was checked just before by `checkLogInWorker(dataDir)` (and nothing wrote to it since):
   * it is not checked again at open. By default it is checked here, before the store is served.
   */
  checkedAlready?: boolean;
}

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
  /** Down from a write that failed for a storage fault (disk full, I/O error, read-only) until a probe write succeeds. */
  private readonly writability: SqliteWritability;
  private readonly flushTransaction: (
    batch: PendingAppend[],
    outcomes: Array<{ sealed: EventEnvelope[]; positions: number[] } | { error: unknown }>,
  ) => void;

  /** Write transactions committed (group commits of appends, imports): each one an fsync with FULL. */
  private committed = 0;

  /**
   * Write transactions this store has committed since it was opened: a group commit of appends that
   * wrote at least one event counts once, as does an import. With `synchronous = FULL` each is an
   * fsync of the WAL, the main cost of an append (`parley_event_log_commits_total`).
   */
  commits(): number {
    return this.committed;
  }

  /** The `synchronous` mode in force on the log (`full` unless asked otherwise). */
  synchronousMode(): 'full' | 'normal' | 'other' {
    return this.log.synchronousMode();
  }

  constructor(options: SqliteEventStoreOptions) {
    super(options.dataDir, options.synchronous ?? 'full', !options.checkedAlready);
    this.seal = options.seal ?? defaultSealContext;
    this.writability = new SqliteWritability(this.file, () => this.log.probeWrite(), options.probeMs);
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
    // while the storage refuses writes, refused at once (a probe finds when it takes them again)
    if (!this.writability.isReachable()) return Promise.reject(this.writability.unavailable(runId));
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
      const fault = storageFaultOf(error);
      if (fault) this.writability.fail(fault);
      for (const item of batch) item.reject(fault ? this.writability.unavailable(item.runId) : error);
      return;
    }
    // an append that failed in its savepoint for a storage fault: the others may have committed
    outcomes.forEach((outcome, i) => {
      if (!('error' in outcome)) return;
      const fault = storageFaultOf(outcome.error);
      if (!fault) return;
      this.writability.fail(fault);
      outcomes[i] = { error: this.writability.unavailable(batch[i].runId) };
    });
    const stored: StoredEvent[] = [];
    for (const outcome of outcomes) {
      if ('sealed' in outcome)
        outcome.positions.forEach((position, i) => stored.push({ position, event: outcome.sealed[i] }));
    }
    if (stored.length) this.committed++;
    if (stored.length) this.subscriptions.notify(stored);
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if ('sealed' in outcome) item.resolve(outcome.sealed);
      else item.reject(outcome.error);
    });
  }

  async importStream(runId: string, events: EventEnvelope[]): Promise<void> {
    assertImportable(runId, events);
    this.assertReachable();
    let positions: number[];
    try {
      positions = this.log.insert(events, () => {
        const head = this.log.head(runId);
        if (head) throw new ConcurrencyError(runId, 0, head.seq);
      });
    } catch (error) {
      const fault = storageFaultOf(error);
      if (!fault) throw error;
      this.writability.fail(fault);
      throw this.writability.unavailable(runId);
    }
    this.committed++;
    this.subscriptions.notify(events.map((event, i) => ({ position: positions[i], event })));
  }

  /**
   * `importStream` from a source read once, synchronously, inside one transaction (an export spooled
   * to disk), each event checked as it is written; any problem rolls it all back. Memory: one run.
   */
  importFrom(runId: string, events: () => Iterable<EventEnvelope>): void {
    this.assertReachable();
    const stored: StoredEvent[] = [];
    const write = this.log.db.transaction(() => {
      const head = this.log.head(runId);
      if (head) throw new ConcurrencyError(runId, 0, head.seq);
      const checker = new ImportChecker(runId);
      for (const event of events()) {
        checker.push(event);
        const [position] = this.log.insertRows([event]);
        // kept for the subscribers (one run at a time), so that none of them reads the run back
        stored.push({ position, event });
      }
      checker.finish();
    });
    try {
      write();
    } catch (error) {
      const fault = storageFaultOf(error);
      if (!fault) throw error;
      this.writability.fail(fault);
      throw this.writability.unavailable(runId);
    }
    this.committed++;
    this.subscriptions.notify(stored);
  }

  /** The store is its own log: reads already include everything it holds. */
  async waitForCatchUp(): Promise<void> {}

  /** Writable, or since when not and why (a storage fault), for /health. */
  reachabilityStatus(): EventLogReachability {
    return this.writability.snapshot();
  }

  /** Throws 503 `EVENT_STORE.UNAVAILABLE` (with the cause) while the storage refuses writes. */
  assertReachable(): void {
    if (!this.writability.isReachable()) throw this.writability.unavailable();
  }

  /** The storage refused a write, or takes writes again (a probe succeeded). */
  onReachabilityChange(listener: (change: ReachabilityChange) => void): () => void {
    return this.writability.onChange(listener);
  }

  /** One probe write now (tests; the probe also runs every `probeMs` while down). */
  probeWritable(): boolean {
    return this.writability.tryProbe();
  }

  async close(): Promise<void> {
    this.writability.stop();
    this.subscriptions.closeAll();
    this.log.close();
  }
}
