import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import type {
  EventListener,
  ReadAllOptions,
  ReadOptions,
  StreamHead,
  Subscription,
} from './event-store.port';
import { SqliteLog, type SqliteSync } from './sqlite/sqlite-log';
import { checkOpenedLog, checkWal, damagedLog, isCorruption } from './sqlite/integrity';
import { LogSubscriptions } from './subscriptions';

/**
 * The read side both adapters share: reads by run, the global order and subscriptions all come
 * from a local SQLite log (the log itself for SQLite; the materialised copy of the topic for Kafka).
 */
export abstract class LocalLogStore {
  protected readonly log: SqliteLog;
  protected readonly subscriptions: LogSubscriptions;

  /** The log's file (`:memory:` for none). */
  protected readonly file: string;

  /**
   * `dir`: a folder (the file is `events.db` inside it), or `:memory:`. `checked`: the log is the
   * source of truth (SQLite mode): its write-ahead log, its structure and the chains of its recently
   * written runs are checked before it is served, and a damaged one is refused (EVENT_STORE.DAMAGED).
   */
  protected constructor(dir: string, synchronous: SqliteSync = 'full', checked = false) {
    let file = ':memory:';
    if (dir !== ':memory:') {
      mkdirSync(dir, { recursive: true });
      file = join(dir, 'events.db');
    }
    this.file = file;
    if (checked && file !== ':memory:') checkWal(file);
    try {
      this.log = new SqliteLog(file, synchronous);
    } catch (error) {
      if (checked && isCorruption(error))
        throw damagedLog(file, `SQLite cannot open it: ${(error as Error).message}`);
      throw error;
    }
    if (checked && file !== ':memory:') {
      try {
        checkOpenedLog(this.log, file);
      } catch (error) {
        this.log.close();
        throw error;
      }
    }
    this.subscriptions = new LogSubscriptions((afterPosition, limit) =>
      this.log.readAll({ afterPosition, limit }),
    );
  }

  async read(runId: string, options: ReadOptions = {}): Promise<EventEnvelope[]> {
    return this.log.read(runId, options.fromSeq ?? 1);
  }

  async *stream(runId: string, options: ReadOptions = {}): AsyncIterable<EventEnvelope> {
    yield* this.log.iterate(runId, options.fromSeq ?? 1);
  }

  /** The stored hash of a run's event at `seq` (one indexed read; the event is not decoded). */
  hashAt(runId: string, seq: number): string | undefined {
    return this.log.hashAt(runId, seq);
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
}
