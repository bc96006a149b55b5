import type { StoredEvent } from '@parley/contracts';
import { signHead, type SignedHead } from '@parley/contracts';
import { damagedLog, type EventStore, type Subscription } from '@parley/event-store';
import type { AnchorLine, AnchorLog } from './anchor-log';
import type { SigningKey } from './signing-key';

type Reason = 'waiting' | 'ended' | 'imported';

/** The events after which a run's head is signed, and why. */
const TRIGGERS: Record<string, Reason> = {
  'human-request.opened': 'waiting',
  'run.completed': 'ended',
  'run.failed': 'ended',
  'run.cancelled': 'ended',
  'run.imported': 'imported',
};
const RANK: Record<Reason, number> = { waiting: 0, imported: 1, ended: 2 };

/**
 * Signs each run's head (seq and hash) when the run waits for a human, ends or is imported, and
 * appends the signed head to the anchor stream. It follows the log (a subscription from where it
 * last wrote), so heads appended by the engine, by an import or (Kafka) by another instance are all
 * signed; the signature is written right after the batch that made the run wait or end. A head
 * already anchored is never signed again; an anchor that cannot be written (disk full) is tried
 * again every second until it is.
 */
export class HeadSigner {
  private subscription?: Subscription;
  /** The last event seen of each run with a pending signature. */
  private readonly seen = new Map<string, { seq: number; hash: string; position: number }>();
  private readonly pending = new Map<string, { reason: Reason; position: number }>();
  private lastPosition = 0;
  private scheduled = false;
  private retry?: NodeJS.Timeout;
  private lastError?: string;

  constructor(
    private readonly store: EventStore,
    private readonly key: SigningKey,
    readonly anchors: AnchorLog,
    private readonly warn: (line: string) => void,
  ) {}

  /**
   * The log against the anchor stream first (SQLite): a log that ends before the position the signer
   * had read, or that lacks the anchored head of a run, lost events without a word (a damaged
   * write-ahead log, a restored or replaced file): refused (EVENT_STORE.DAMAGED) unless `acceptLost`.
   */
  async checkAgainstAnchors(file: string, acceptLost: boolean): Promise<void> {
    if (this.store.kind !== 'sqlite') return;
    const problems: string[] = [];
    const last = await this.store.lastPosition();
    if (this.anchors.watermark() > last)
      problems.push(
        `the log ends at position ${last}, but its anchor stream was written after position ${this.anchors.watermark()}`,
      );
    for (const runId of this.anchors.runs()) {
      const anchored = this.anchors.latest(runId)!;
      const head = await this.store.head(runId);
      if (!head || head.seq < anchored.seq) {
        problems.push(
          `run ${runId} is anchored at seq ${anchored.seq}, the log has ${head ? `only seq ${head.seq}` : 'no such run'}`,
        );
      } else {
        const at = await this.hashAt(runId, anchored.seq);
        if (at !== anchored.hash)
          problems.push(`run ${runId} has another event at its anchored seq ${anchored.seq} (rewritten)`);
      }
      if (problems.length >= 5) break;
    }
    if (!problems.length) return;
    const what = `${problems.join('; ')} (anchor stream ${this.anchors.file})`;
    if (acceptLost) {
      this.warn(
        `the event log lost events its anchors know of: ${what}; starting anyway (PARLEY_ACCEPT_LOST_EVENTS)`,
      );
      return;
    }
    throw damagedLog(file, `it holds less than its anchor stream: ${what}`);
  }

  private async hashAt(runId: string, seq: number): Promise<string | undefined> {
    for await (const event of this.store.stream(runId, { fromSeq: seq }))
      return event.seq === seq ? event.hash : undefined;
    return undefined;
  }

  /** From the anchor stream's watermark (SQLite positions are stable; Kafka's local ones are rebuilt: from 0). */
  start(): Promise<void> {
    const from = this.store.kind === 'sqlite' ? this.anchors.watermark() : 0;
    this.lastPosition = from;
    this.subscription = this.store.subscribe(from, (stored) => this.onEvent(stored));
    return this.subscription.ready;
  }

  stop(): void {
    this.subscription?.close();
    clearTimeout(this.retry);
    this.flush();
    this.anchors.close();
  }

  /** Sign and anchor what is pending now (before a check of the anchors). */
  flushNow(): void {
    this.flush();
  }

  /** The signed heads of a run (each time it waited, ended or was imported), oldest first. */
  signedHeads(runId: string): SignedHead[] {
    this.flush();
    return this.anchors.heads(runId);
  }

  /** A signature of `head` as the export's head of the run (not anchored: an export is no state of the run). */
  signExportHead(runId: string, seq: number, hash: string): SignedHead {
    return signHead(
      { runId, seq, hash, reason: 'export', at: new Date().toISOString() },
      this.key.privateKey,
    );
  }

  /** For /health: signatures not yet written, and why. */
  status(): { keyId: string; pending: number; lastError?: string } {
    return {
      keyId: this.key.keyId,
      pending: this.pending.size,
      ...(this.pending.size && this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private onEvent({ position, event }: StoredEvent): void {
    this.lastPosition = position;
    const reason = TRIGGERS[event.type] as Reason | undefined;
    if (!reason && !this.pending.has(event.runId)) return;
    this.seen.set(event.runId, { seq: event.seq, hash: event.hash, position });
    if (reason) {
      const before = this.pending.get(event.runId);
      if (!before || RANK[reason] >= RANK[before.reason])
        this.pending.set(event.runId, { reason, position: before?.position ?? position });
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Sign and anchor every pending head, in one write. */
  private flush(): void {
    if (!this.pending.size) return;
    const runs = [...this.pending.entries()].sort((a, b) => a[1].position - b[1].position);
    const lines: AnchorLine[] = [];
    runs.forEach(([runId, { reason }], i) => {
      const head = this.seen.get(runId)!;
      const anchored = this.anchors.latest(runId);
      if (anchored && anchored.seq >= head.seq) return; // signed already (a re-read after a restart)
      const watermark = i + 1 < runs.length ? runs[i + 1][1].position - 1 : this.lastPosition;
      lines.push({
        head: signHead(
          { runId, seq: head.seq, hash: head.hash, reason, at: new Date().toISOString() },
          this.key.privateKey,
        ),
        watermark,
      });
    });
    try {
      this.anchors.append(lines);
    } catch (error) {
      this.lastError = `${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}`.trim();
      if (!this.retry)
        this.warn(
          `cannot write the anchor stream ${this.anchors.file}: ${this.lastError}; retrying every second`,
        );
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.flush(), 1000);
      this.retry.unref();
      return;
    }
    this.retry = undefined;
    this.lastError = undefined;
    for (const [runId] of runs) {
      this.pending.delete(runId);
      this.seen.delete(runId);
    }
  }
}
