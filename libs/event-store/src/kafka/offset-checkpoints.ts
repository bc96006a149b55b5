import type { SqliteLog } from '../sqlite/sqlite-log';
import type { StoreLog } from './store-log';

/** How often offsets moved by skipped records alone are written to the local store. */
const OFFSETS_SAVE_MS = 1000;

/**
 * The next offset to read per partition, mirrored from the local store's `offset:<partition>` meta
 * rows. A batch that stores events writes its offset in the same SQLite transaction as the events
 * (`commitMeta`); a batch of records already held (own records, duplicates) only moves the offset
 * in memory, written within a second (`skipped`): a crash before that re-reads those records, which
 * are recognised as stored again.
 */
export class OffsetCheckpoints {
  private readonly consumed = new Map<number, number>();
  /** Partitions whose consumed offset moved without a commit (skipped records): written later. */
  private readonly unsaved = new Set<number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: SqliteLog,
    private readonly out: StoreLog,
  ) {
    for (const row of log.db
      .prepare<[], { key: string; value: string }>("SELECT key, value FROM meta WHERE key LIKE 'offset:%'")
      .all()) {
      this.consumed.set(Number(row.key.slice('offset:'.length)), Number(row.value));
    }
  }

  /** The next offset to read in `partition`, if the local store has read it before. */
  next(partition: number): number | undefined {
    return this.consumed.get(partition);
  }

  /** Every partition read before, with its next offset. */
  entries(): IterableIterator<[number, number]> {
    return this.consumed.entries();
  }

  /** Next offset to read per partition, as stored in the local store. */
  snapshot(): Record<number, number> {
    return Object.fromEntries(this.consumed);
  }

  /** A batch of records already held moved `partition` to `next`: written later, not in a commit per batch. */
  skipped(partition: number, next: number): void {
    this.consumed.set(partition, next);
    this.unsaved.add(partition);
    this.timer ??= setTimeout(() => this.save(), OFFSETS_SAVE_MS);
  }

  /** The meta rows to commit with a batch that moves `partition` to `next`: the unsaved others go along. */
  commitMeta(partition: number, next: number): Record<string, string> {
    const meta: Record<string, string> = { [`offset:${partition}`]: String(next) };
    for (const p of this.unsaved) if (p !== partition) meta[`offset:${p}`] = String(this.consumed.get(p));
    return meta;
  }

  /** The rows of `commitMeta` are committed. */
  committed(partition: number, next: number): void {
    this.consumed.set(partition, next);
    this.unsaved.clear();
  }

  /** Write the offsets moved by skipped records alone (see `skipped`). */
  save(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unsaved.size === 0 || !this.log.db.open) return;
    const meta: Record<string, string> = {};
    for (const p of this.unsaved) meta[`offset:${p}`] = String(this.consumed.get(p));
    try {
      this.log.applyOnce([], meta);
      this.unsaved.clear();
    } catch (error) {
      this.out.debug(`could not save offsets: ${(error as Error).message}`); // next time
      this.timer = setTimeout(() => this.save(), OFFSETS_SAVE_MS);
    }
  }

  /** A last `save`, and no later one. */
  close(): void {
    this.save();
    clearTimeout(this.timer);
  }
}
