import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { EventEnvelope } from '@parley/contracts';

const CHUNK = 1024 * 1024;

/**
 * The events of an import, spooled to a file in the data folder while the body is verified: nothing
 * of the body is held in memory, and the events are read back one run at a time (`events(runId)`,
 * synchronous, for a store that writes a run in one transaction). Removed by `remove`.
 */
export class ImportSpool {
  private readonly fd: number;
  private readonly file: string;
  private buffer: Buffer[] = [];
  private buffered = 0;
  private offset = 0;
  private currentRun: string | undefined;
  /** Where each run's lines are: byte ranges (an export groups a run's events: usually one). */
  private readonly segments = new Map<string, Array<[number, number]>>();

  constructor(dir: string) {
    this.file = join(dir, `.import-${randomUUID()}.ndjson`);
    this.fd = openSync(this.file, 'w+', 0o600);
  }

  /** One event line of `runId`. */
  add(runId: string, line: string): void {
    const bytes = Buffer.from(`${line}\n`);
    if (runId !== this.currentRun) {
      this.currentRun = runId;
      let list = this.segments.get(runId);
      if (!list) this.segments.set(runId, (list = []));
      list.push([this.offset, this.offset]);
    }
    this.offset += bytes.length;
    const list = this.segments.get(runId)!;
    list[list.length - 1][1] = this.offset;
    this.buffer.push(bytes);
    this.buffered += bytes.length;
    if (this.buffered >= CHUNK) this.flush();
  }

  runIds(): string[] {
    return [...this.segments.keys()];
  }

  /** The run's events as spooled, in file order, read a chunk at a time. */
  *events(runId: string): Generator<EventEnvelope> {
    this.flush();
    for (const [start, end] of this.segments.get(runId) ?? []) {
      let position = start;
      let rest = '';
      const chunk = Buffer.alloc(CHUNK);
      while (position < end) {
        const n = readSync(this.fd, chunk, 0, Math.min(CHUNK, end - position), position);
        if (n <= 0) break;
        position += n;
        const lines = (rest + chunk.subarray(0, n).toString('utf8')).split('\n');
        rest = lines.pop()!;
        for (const line of lines) if (line) yield JSON.parse(line) as EventEnvelope;
      }
      if (rest) yield JSON.parse(rest) as EventEnvelope;
    }
  }

  remove(): void {
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.file, { force: true });
    }
  }

  private flush(): void {
    if (!this.buffered) return;
    const data = Buffer.concat(this.buffer);
    let written = 0;
    while (written < data.length) written += writeSync(this.fd, data, written);
    this.buffer = [];
    this.buffered = 0;
  }
}

/**
 * The lines of a stream, with backpressure: the next chunk is read only once every line of the last
 * one was consumed (readline's async iterator queues every line as fast as the body arrives).
 */
export async function* linesOf(body: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of body) {
    const parts = (rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
    rest = parts.pop()!;
    for (const part of parts) yield part.endsWith('\r') ? part.slice(0, -1) : part;
  }
  rest += decoder.end();
  if (rest) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
