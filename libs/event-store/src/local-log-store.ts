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
import { LogSubscriptions } from './subscriptions';

/**
 * The read side both adapters share: reads by run, the global order and subscriptions all come
 * from a local SQLite log (the log itself for SQLite; the materialised copy of the topic for Kafka).
 */
export abstract class LocalLogStore {
  protected readonly log: SqliteLog;
  protected readonly subscriptions: LogSubscriptions;

  /** `dir`: a folder (the file is `events.db` inside it), or `:memory:`. */
  protected constructor(dir: string, synchronous: SqliteSync = 'full') {
    let file = ':memory:';
    if (dir !== ':memory:') {
      mkdirSync(dir, { recursive: true });
      file = join(dir, 'events.db');
    }
    this.log = new SqliteLog(file, synchronous);
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
