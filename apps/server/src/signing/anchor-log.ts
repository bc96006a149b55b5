import { closeSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { SignedHeadSchema, type SignedHead } from '@parley/contracts';

/** One line of the anchor stream: a signed head, and how far the signer had read the log then. */
interface AnchorLine {
  head: SignedHead;
  /** Every event up to this global position had been considered for signing when this was written. */
  watermark: number;
}

/**
 * The anchor stream: the signed heads, appended outside the event log (an append-only NDJSON file
 * in the data folder), so that a run deleted or rewritten in the log is found against it
 * (`parley verify --anchors`). Every append is fsynced. Read whole at start-up; a torn last line
 * (a crash in the middle of a write) is dropped and said.
 */
export class FileAnchorLog {
  readonly kind = 'file' as const;
  private readonly byRun = new Map<string, SignedHead[]>();
  private fd: number | undefined;
  private maxWatermark = 0;
  notice?: string;

  constructor(readonly file: string) {
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

  /** Append and fsync; throws when the disk refuses (the signer tries again later). */
  append(lines: AnchorLine[]): void {
    if (!lines.length) return;
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    fsyncSync(this.fd);
    for (const line of lines) this.remember(line);
  }

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

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private remember(line: AnchorLine): void {
    let heads = this.byRun.get(line.head.runId);
    if (!heads) this.byRun.set(line.head.runId, (heads = []));
    heads.push(line.head);
    this.maxWatermark = Math.max(this.maxWatermark, line.watermark);
  }
}

export type AnchorLog = FileAnchorLog;
export type { AnchorLine };
