import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { RefundRow } from './wire';

export type { RefundRow } from './wire';

/** Where refunds are made: this process's ledger, or the shared refunds service (`RefundsClient`). */
export interface Refunds {
  /** Apply once per idempotency key. Returns the row and whether the key was seen before. */
  apply(
    row: Omit<RefundRow, 'refundId' | 'createdAt'>,
    now: Date,
  ): Promise<{ row: RefundRow; existed: boolean }>;
  list(runId?: string): Promise<RefundRow[]>;
  /** The refunds of one order, oldest first. */
  forOrder(orderId: string): Promise<RefundRow[]>;
  close(): void;
}

/**
 * The refunds ledger: the observable effect of the `process_refund` tool. One row per idempotency
 * key, so a refund re-tried after a crash is applied once and reported as reconciled. One SQLite
 * file: a single Parley server's (`<data dir>/refunds.db`) or the refunds service's, which every
 * instance of a cluster shares (see refunds-service.ts).
 */
export class RefundLedger {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(dataDir: string) {
    this.db = new Database(dataDir === ':memory:' ? ':memory:' : join(dataDir, 'refunds.db'));
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS refunds (
      idempotency_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, order_id TEXT NOT NULL, amount REAL NOT NULL,
      reason TEXT NOT NULL, refund_id TEXT NOT NULL, created_at TEXT NOT NULL)`);
    this.statements = {
      insert: this.db.prepare(
        'INSERT OR IGNORE INTO refunds (idempotency_key, run_id, order_id, amount, reason, refund_id, created_at) VALUES (@idempotencyKey, @runId, @orderId, @amount, @reason, @refundId, @createdAt)',
      ),
      byKey: this.db.prepare<[string], RefundRow>(`SELECT ${COLUMNS} FROM refunds WHERE idempotency_key = ?`),
      byRun: this.db.prepare<[string], RefundRow>(
        `SELECT ${COLUMNS} FROM refunds WHERE run_id = ? ORDER BY created_at`,
      ),
      byOrder: this.db.prepare<[string], RefundRow>(
        `SELECT ${COLUMNS} FROM refunds WHERE order_id = ? ORDER BY created_at`,
      ),
      all: this.db.prepare<[], RefundRow>(`SELECT ${COLUMNS} FROM refunds ORDER BY created_at`),
    };
  }

  /** Apply once per key (one statement: atomic). Returns the row and whether it already existed. */
  apply(row: Omit<RefundRow, 'refundId' | 'createdAt'>, now: Date): { row: RefundRow; existed: boolean } {
    const existing = this.byKey(row.idempotencyKey);
    if (existing) return { row: existing, existed: true };
    const refundId = `rf_${row.idempotencyKey.replace(/[^A-Za-z0-9]/g, '').slice(-12)}`;
    const full: RefundRow = { ...row, refundId, createdAt: now.toISOString() };
    // Another connection to the file may have applied the key since the look-up: the key decides.
    if (this.statements.insert.run(full).changes === 0)
      return { row: this.byKey(row.idempotencyKey)!, existed: true };
    return { row: full, existed: false };
  }

  byKey(key: string): RefundRow | undefined {
    return this.statements.byKey.get(key);
  }

  list(runId?: string): RefundRow[] {
    return runId ? this.statements.byRun.all(runId) : this.statements.all.all();
  }

  /** The refunds of one order, oldest first. */
  forOrder(orderId: string): RefundRow[] {
    return this.statements.byOrder.all(orderId);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const COLUMNS =
  'idempotency_key AS idempotencyKey, run_id AS runId, order_id AS orderId, amount, reason, refund_id AS refundId, created_at AS createdAt';

/** `Refunds` over this process's ledger. */
export class LocalRefunds implements Refunds {
  constructor(private readonly ledger: RefundLedger) {}

  async apply(row: Omit<RefundRow, 'refundId' | 'createdAt'>, now: Date) {
    return this.ledger.apply(row, now);
  }

  async list(runId?: string) {
    return this.ledger.list(runId);
  }

  async forOrder(orderId: string) {
    return this.ledger.forOrder(orderId);
  }

  close(): void {
    this.ledger.close();
  }
}
