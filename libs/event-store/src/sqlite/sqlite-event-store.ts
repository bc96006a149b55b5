import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';
import { ConcurrencyError } from '@parley/contracts';
import type {
  EventListener,
  EventStore,
  ReadAllOptions,
  ReadOptions,
  StreamHead,
  Subscription,
} from '../event-store.port';
import { assertImportable } from '../import-check';
import { sealBatch, type SealContext, defaultSealContext } from '../seal';
import { LogSubscriptions } from '../subscriptions';
import { SqliteLog } from './sqlite-log';

export interface SqliteEventStoreOptions {
  /** A folder (the file is `events.db` inside it), or `:memory:`. */
  dataDir: string;
  seal?: SealContext;
}

/** The embedded event log: the default on one machine, no infrastructure needed. */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly log: SqliteLog;
  private readonly subscriptions: LogSubscriptions;
  private readonly seal: SealContext;

  constructor(options: SqliteEventStoreOptions) {
    let file = ':memory:';
    if (options.dataDir !== ':memory:') {
      mkdirSync(options.dataDir, { recursive: true });
      file = join(options.dataDir, 'events.db');
    }
    this.log = new SqliteLog(file);
    this.seal = options.seal ?? defaultSealContext;
    this.subscriptions = new LogSubscriptions((afterPosition, limit) =>
      this.log.readAll({ afterPosition, limit }),
    );
  }

  async append(runId: string, expectedSeq: number, events: NewEvent[]): Promise<EventEnvelope[]> {
    return this.appendSync(runId, expectedSeq, events);
  }

  /** Synchronous append (better-sqlite3 is synchronous): the engine's hot path uses it directly. */
  appendSync(runId: string, expectedSeq: number, events: NewEvent[]): EventEnvelope[] {
    if (events.length === 0) return [];
    let sealed: EventEnvelope[] = [];
    const tx = this.log.db.transaction(() => {
      const head = this.log.head(runId);
      const actual = head?.seq ?? 0;
      if (actual !== expectedSeq) throw new ConcurrencyError(runId, expectedSeq, actual);
      sealed = sealBatch(runId, head, events, this.seal);
      this.log.insert(sealed);
    });
    tx();
    this.subscriptions.notify();
    return sealed;
  }

  async read(runId: string, options: ReadOptions = {}): Promise<EventEnvelope[]> {
    return this.log.read(runId, options.fromSeq ?? 1);
  }

  async *stream(runId: string, options: ReadOptions = {}): AsyncIterable<EventEnvelope> {
    let fromSeq = options.fromSeq ?? 1;
    for (;;) {
      const page = this.log.readPage(runId, fromSeq, 1000);
      yield* page;
      if (page.length < 1000) return;
      fromSeq = page[page.length - 1].seq + 1;
    }
  }

  async head(runId: string): Promise<StreamHead | undefined> {
    return this.log.head(runId);
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.log.readAll(options);
  }

  async lastPosition(): Promise<number> {
    return this.log.lastPosition();
  }

  subscribe(afterPosition: number, listener: EventListener): Subscription {
    return this.subscriptions.subscribe(afterPosition, listener);
  }

  async importStream(runId: string, events: EventEnvelope[]): Promise<void> {
    assertImportable(runId, events);
    this.log.insert(events, () => {
      const head = this.log.head(runId);
      if (head) throw new ConcurrencyError(runId, 0, head.seq);
    });
    this.subscriptions.notify();
  }

  async close(): Promise<void> {
    this.subscriptions.closeAll();
    this.log.close();
  }
}
