import type { StoredEvent } from '@parley/contracts';
import { ParleyError, signHead, type SignedHead } from '@parley/contracts';
import { LocalLogStore, damagedLog, type EventStore, type Subscription } from '@parley/event-store';
import type { AnchorLine, AnchorStream } from './anchor-log';
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
 * again every second until it is. The signer follows the log, not the engine: anchoring never
 * delays a run's append. In Kafka mode only the owner of a run signs it (see `signOnlyOwned`).
 */
export class HeadSigner {
  private subscription?: Subscription;
  /** The last event seen of each run with a pending signature. */
  private readonly seen = new Map<string, { seq: number; hash: string; position: number }>();
  /** Runs to sign: why, the position of the first event that asked it, and the seq of the last one. */
  private readonly pending = new Map<string, Pending>();
  private lastPosition = 0;
  private scheduled = false;
  private retry?: NodeJS.Timeout;
  private lastError?: string;
  /** Flushes run one after another (an append is asynchronous). */
  private flushing: Promise<void> = Promise.resolve();
  /** Which runs this instance signs: all (SQLite); Kafka, the runs it owns (their owner signs them). */
  private owns: (runId: string) => boolean;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly key: SigningKey,
    readonly anchors: AnchorStream,
    private readonly warn: (line: string) => void,
  ) {
    // Kafka: nothing is signed here until the cluster says which runs are ours
    this.owns = store.kind === 'sqlite' ? () => true : () => false;
  }

  /**
   * Kafka mode: sign only the runs this instance owns. A head of another instance's run stays
   * pending here until its anchor is read from the shared stream, or until the run becomes ours
   * (its owner died before it anchored it): then it is signed here.
   */
  signOnlyOwned(owns: (runId: string) => boolean): void {
    this.owns = owns;
    this.schedule();
  }

  /**
   * The log against the anchor stream first (SQLite): a log that ends before the position the signer
   * had read, or that lacks the anchored head of a run, lost events without a word (a damaged
   * write-ahead log, a restored or replaced file): refused (EVENT_STORE.DAMAGED) unless `acceptLost`.
   */
  async checkAgainstAnchors(file: string, acceptLost: boolean): Promise<void> {
    const store = this.store;
    if (store.kind !== 'sqlite' || !(store instanceof LocalLogStore)) return;
    const problems: string[] = [];
    const last = await store.lastPosition();
    if (this.anchors.watermark() > last)
      problems.push(
        `the log ends at position ${last}, but its anchor stream was written after position ${this.anchors.watermark()}`,
      );
    // one indexed read of a stored hash per anchored run (10,000 paused runs, 10,000 reads; no event decoded)
    for (const runId of this.anchors.runs()) {
      const anchored = this.anchors.latest(runId)!;
      const at = store.hashAt(runId, anchored.seq);
      if (at === anchored.hash) continue;
      const head = at ? undefined : await store.head(runId);
      if (!at && (!head || head.seq < anchored.seq)) {
        problems.push(
          `run ${runId} is anchored at seq ${anchored.seq}, the log has ${head ? `only seq ${head.seq}` : 'no such run'}`,
        );
      } else {
        problems.push(`run ${runId} has another event at its anchored seq ${anchored.seq} (rewritten)`);
      }
      if (problems.length >= 5) break;
    }
    if (!problems.length) return;
    const what = `${problems.join('; ')} (anchor stream ${this.anchors.location})`;
    if (acceptLost) {
      this.warn(
        `the event log lost events its anchors know of: ${what}; starting anyway (PARLEY_ACCEPT_LOST_EVENTS)`,
      );
      return;
    }
    throw damagedLog(file, `it holds less than its anchor stream: ${what}`);
  }

  /** From the anchor stream's watermark (SQLite positions are stable; Kafka's local ones are rebuilt: from 0). */
  start(): Promise<void> {
    const from = this.store.kind === 'sqlite' ? this.anchors.watermark() : 0;
    this.lastPosition = from;
    this.subscription = this.store.subscribe(from, (stored) => this.onEvent(stored));
    return this.subscription.ready;
  }

  async stop(): Promise<void> {
    this.subscription?.close();
    clearTimeout(this.retry);
    // what is pending is written if the stream takes it soon; otherwise the next start signs it again
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.enqueue(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5000);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.retry);
    await this.anchors.close();
  }

  /**
   * Sign and anchor what is pending now, then read the anchor stream up to its end (before a check
   * of the anchors). Rejects when the stream cannot be written or read.
   */
  async flushNow(): Promise<void> {
    await this.enqueue();
    if (this.lastError && this.ownedPending() > 0)
      throw new ParleyError(
        this.anchors.kind === 'kafka' ? 'EVENT_LOG.UNAVAILABLE' : 'EVENT_STORE.UNAVAILABLE',
        `the anchor stream ${this.anchors.location} cannot be written: ${this.lastError}`,
        'unavailable',
      );
    await this.anchors.sync(15_000);
  }

  /** The heads of a run this server signed (each time it waited, ended or was imported), oldest first. */
  async signedHeads(runId: string): Promise<SignedHead[]> {
    await this.enqueue();
    return this.anchors.heads(runId).filter((h) => h.keyId === this.key.keyId);
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
    const pending = this.ownedPending();
    return {
      keyId: this.key.keyId,
      pending,
      ...(pending && this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private ownedPending(): number {
    let n = 0;
    for (const runId of this.pending.keys()) if (this.owns(runId)) n++;
    return n;
  }

  private onEvent({ position, event }: StoredEvent): void {
    this.lastPosition = position;
    const reason = TRIGGERS[event.type] as Reason | undefined;
    if (!reason && !this.pending.has(event.runId)) return;
    this.seen.set(event.runId, { seq: event.seq, hash: event.hash, position });
    if (reason) {
      const before = this.pending.get(event.runId);
      this.pending.set(event.runId, {
        reason: before && RANK[before.reason] > RANK[reason] ? before.reason : reason,
        position: before?.position ?? position,
        seq: event.seq,
      });
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.enqueue();
    });
  }

  private enqueue(): Promise<void> {
    const next = this.flushing.then(() => this.flush());
    this.flushing = next.catch(() => undefined);
    return this.flushing;
  }

  /**
   * Sign and anchor every pending head this instance signs, in one write. The heads are taken out
   * of `pending` before the write (events that arrive meanwhile start new ones) and put back when
   * the write fails; they are tried again every second.
   */
  private async flush(): Promise<void> {
    if (!this.pending.size) return;
    const runs = [...this.pending.entries()].sort((a, b) => a[1].position - b[1].position);
    const lines: AnchorLine[] = [];
    const taken: Array<[string, Pending, Seen]> = [];
    let others = 0;
    runs.forEach(([runId, entry], i) => {
      const head = this.seen.get(runId)!;
      const anchored = this.anchors.latest(runId);
      if (anchored && anchored.seq >= entry.seq) {
        // signed already (a re-read after a restart; Kafka: by its owner)
        this.pending.delete(runId);
        this.seen.delete(runId);
        return;
      }
      if (!this.owns(runId)) {
        others++;
        return;
      }
      const watermark = i + 1 < runs.length ? runs[i + 1][1].position - 1 : this.lastPosition;
      lines.push({
        head: signHead(
          { runId, seq: head.seq, hash: head.hash, reason: entry.reason, at: new Date().toISOString() },
          this.key.privateKey,
        ),
        watermark,
      });
      taken.push([runId, entry, head]);
      this.pending.delete(runId);
      this.seen.delete(runId);
    });
    try {
      await this.anchors.append(lines);
    } catch (error) {
      for (const [runId, entry, head] of taken) {
        // a later head of the run asked meanwhile supersedes this one; otherwise it is pending again
        if (this.pending.has(runId)) continue;
        this.pending.set(runId, entry);
        this.seen.set(runId, head);
      }
      const first = this.lastError === undefined;
      this.lastError = `${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}`.trim();
      if (first)
        this.warn(
          `cannot write the anchor stream ${this.anchors.location}: ${this.lastError}; retrying every second`,
        );
      this.later(1000);
      return;
    }
    if (lines.length) this.lastError = undefined;
    // heads of other instances' runs: looked at again until their anchors are read or they are ours
    if (others) this.later(2000);
  }

  private later(ms: number): void {
    clearTimeout(this.retry);
    if (this.stopped) return;
    this.retry = setTimeout(() => void this.enqueue(), ms);
    this.retry.unref();
  }
}

interface Pending {
  reason: Reason;
  position: number;
  seq: number;
}

type Seen = { seq: number; hash: string; position: number };
