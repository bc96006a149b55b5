import {
  closeSync,
  fstatSync,
  fsync,
  ftruncateSync,
  openSync,
  readFileSync,
  truncateSync,
  write,
} from 'node:fs';
import { promisify } from 'node:util';
import { SignedHeadSchema, type SignedHead } from '@parley/contracts';

const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);

/** One line of the anchor stream: a signed head, and how far the signer had read the log then. */
export interface AnchorLine {
  head: SignedHead;
  /**
   * Every event up to this global position had been considered for signing when this was written
   * (SQLite positions; in Kafka mode positions are each instance's own and this is not kept).
   */
  watermark: number;
}

/**
 * The anchor stream: signed heads kept outside the event log, so that a run deleted or rewritten in
 * the log is found against it. An append-only file in the data folder (SQLite mode,
 * `FileAnchorLog`) or a Kafka topic shared by every instance (Kafka mode, `KafkaAnchorStream`).
 * Every head it holds is kept in memory, by run, in seq order.
 */
export interface AnchorStream {
  readonly kind: 'file' | 'kafka';
  /** Where it is: the file, or the topic. */
  readonly location: string;
  /**
   * Write durably (the file: fsynced; Kafka: acknowledged by every in-sync replica), then remember.
   * Rejects when the write is refused (the signer tries again); resolved means written.
   */
  append(lines: AnchorLine[]): Promise<void>;
  /** Resolves once every anchor written anywhere before the call is read (Kafka: other instances' too). */
  sync(timeoutMs?: number): Promise<void>;
  /** The position the signer had read up to when it last wrote (SQLite positions; 0: none or Kafka). */
  watermark(): number;
  /** The run's anchored heads, lowest seq first. */
  heads(runId: string): SignedHead[];
  /** The anchored head with the highest seq. */
  latest(runId: string): SignedHead | undefined;
  runs(): string[];
  close(): Promise<void>;
}

/** Keep `head` among `heads` in seq order; false when the very same head is there already (a duplicate). */
export function insertHead(heads: SignedHead[], head: SignedHead): boolean {
  if (heads.some((h) => h.seq === head.seq && h.hash === head.hash && h.keyId === head.keyId)) return false;
  let i = heads.length;
  while (i > 0 && heads[i - 1].seq > head.seq) i--;
  heads.splice(i, 0, head);
  return true;
}

/**
 * The anchor stream: the signed heads, appended outside the event log (an append-only NDJSON file
 * in the data folder), so that a run deleted or rewritten in the log is found against it
 * (`parley verify --anchors`). Every append is fsynced. Read whole at start-up; a torn last line
 * (a crash in the middle of a write) is dropped and said.
 */
export class FileAnchorLog implements AnchorStream {
  readonly kind = 'file' as const;
  private readonly byRun = new Map<string, SignedHead[]>();
  private fd: number | undefined;
  private maxWatermark = 0;
  /** The append being written, if any: `close` waits for it (the signer writes one at a time). */
  private writing?: Promise<void>;
  /** Appends written and fsynced since the file was opened (`parley_anchor_writes_total`). */
  private fsynced = 0;
  notice?: string;
  readonly location: string;

  constructor(readonly file: string) {
    this.location = file;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let parsed: AnchorLine | undefined;
      try {
        const value = JSON.parse(line) as AnchorLine;
        const head = SignedHeadSchema.safeParse(value.head);
        if (head.success) parsed = { head: head.data, watermark: Number(value.watermark) || 0 };
      } catch {
        // said below
      }
      if (!parsed) {
        if (i === lines.length - 1) {
          // the last line, with no newline after it: cut it off, so the next append starts a line
          truncateSync(file, Buffer.byteLength(text) - Buffer.byteLength(line));
          this.notice = `${file}: the last line was torn (a crash while writing it); dropped`;
        } else throw new Error(`${file}: line ${i + 1} is not an anchor; the anchor stream is damaged`);
        return;
      }
      this.remember(parsed);
    });
  }

  /** The position the signer had read up to when it last wrote (0: none). */
  watermark(): number {
    return this.maxWatermark;
  }

  /**
   * Append and fsync; throws when the disk refuses (the signer tries again later). The write and the
   * fsync run on libuv's thread pool, not on the event loop: an fsync takes a millisecond or more,
   * during which requests and appends go on, and the heads that ask for a signature meanwhile are
   * written together by the signer's next append (one fsync for all of them). The heads are
   * remembered only once the fsync has returned.
   */
  async append(lines: AnchorLine[]): Promise<void> {
    if (!lines.length) return;
    const writing = this.writeDurably(lines);
    this.writing = writing.catch(() => undefined);
    await writing;
    for (const line of lines) this.remember(line);
  }

  private async writeDurably(lines: AnchorLine[]): Promise<void> {
    await this.writing;
    this.fd ??= openSync(this.file, 'a', 0o600);
    const fd = this.fd;
    const size = fstatSync(fd).size;
    try {
      const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await writeAsync(fd, data, written, data.length - written, null);
        written += bytesWritten;
      }
      await fsyncAsync(fd);
      this.fsynced++;
    } catch (error) {
      // a part written (disk full): cut it off, so that the retry starts a line and no half line stays
      try {
        ftruncateSync(fd, size);
      } catch {
        // the start-up read drops a torn last line
      }
      throw error;
    }
  }

  /** Appends written and fsynced since the file was opened. */
  writes(): number {
    return this.fsynced;
  }

  /** A file has no other writer: what is in memory is all. */
  async sync(): Promise<void> {}

  heads(runId: string): SignedHead[] {
    return this.byRun.get(runId) ?? [];
  }

  latest(runId: string): SignedHead | undefined {
    const heads = this.byRun.get(runId);
    return heads?.[heads.length - 1];
  }

  runs(): string[] {
    return [...this.byRun.keys()];
  }

  async close(): Promise<void> {
    await this.writing;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private remember(line: AnchorLine): void {
    let heads = this.byRun.get(line.head.runId);
    if (!heads) this.byRun.set(line.head.runId, (heads = []));
    insertHead(heads, line.head);
    this.maxWatermark = Math.max(this.maxWatermark, line.watermark);
  }
}
