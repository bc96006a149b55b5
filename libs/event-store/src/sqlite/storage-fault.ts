import { ParleyError } from '@parley/contracts';
import type { EventLogReachability, ReachabilityChange } from '../event-store.port';

/**
 * A failure of the storage under the SQLite log, as opposed to a bad request: the disk is full, an
 * I/O error, a read-only file system, a file that cannot be opened. Returns its cause as a short
 * text (`SQLITE_FULL: database or disk is full`), or undefined for any other error.
 */
export function storageFaultOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/.test(code) ||
    /^E(NOSPC|IO|ROFS|DQUOT)$/.test(code)
  )
    return `${code}: ${String(e?.message ?? '')}`;
  return undefined;
}

/**
 * Whether the SQLite log can be written: it turns unreachable on the first write that fails for a
 * storage fault, and a probe (a one-row write, every `probeMs`) turns it reachable again as soon as
 * the storage takes writes again; listeners (the server's recovery) then drive the runs again.
 */
export class SqliteWritability {
  private reachable = true;
  private since = new Date();
  private lastError?: string;
  private lastOkAt?: Date;
  private outages = 0;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<(change: ReachabilityChange) => void>();

  constructor(
    private readonly file: string,
    private readonly probe: () => void,
    private readonly probeMs = 500,
  ) {}

  snapshot(): EventLogReachability {
    return {
      kind: 'sqlite',
      reachable: this.reachable,
      since: this.since.toISOString(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lastOkAt ? { lastOkAt: this.lastOkAt.toISOString() } : {}),
      outages: this.outages,
    };
  }

  isReachable(): boolean {
    return this.reachable;
  }

  onChange(listener: (change: ReachabilityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A write failed for `cause`: unreachable until a probe write succeeds. */
  fail(cause: string): void {
    this.lastError = cause;
    if (!this.reachable) return;
    this.reachable = false;
    this.since = new Date();
    this.outages += 1;
    this.timer = setInterval(() => this.tryProbe(), this.probeMs);
    this.timer.unref();
    this.notify({ reachable: false, error: cause });
  }

  /** One probe now: true when the storage takes a write again. */
  tryProbe(): boolean {
    try {
      this.probe();
    } catch (error) {
      this.lastError = storageFaultOf(error) ?? String((error as Error).message ?? error);
      return false;
    }
    this.lastOkAt = new Date();
    if (this.reachable) return true;
    const downMs = Date.now() - this.since.getTime();
    clearInterval(this.timer);
    this.reachable = true;
    this.since = new Date();
    this.notify({ reachable: true, downMs });
    return true;
  }

  /** The coded 503 of a write refused or failed for a storage fault: nothing of it was stored. */
  unavailable(runId?: string): ParleyError {
    const r = this.snapshot();
    return new ParleyError(
      'EVENT_STORE.UNAVAILABLE',
      `The event log (SQLite ${this.file}) cannot be written since ${r.since} (${r.lastError}); ` +
        'nothing was written (the transaction was rolled back). Try again once GET /health reports it ok.',
      'unavailable',
      undefined,
      { log: 'sqlite', file: this.file, cause: r.lastError, since: r.since, ...(runId ? { runId } : {}) },
    );
  }

  stop(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  private notify(change: ReachabilityChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
