import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ChainVerifier, ParleyError } from '@parley/contracts';
import type { SqliteLog } from './sqlite-log';

/** The runs whose whole chains are verified at start-up: those written in the last this many events. */
const RECENT_EVENTS = 20_000;

/** How to repair, said with every refusal: the operator's way forward, step by step. */
function repairAdvice(file: string): string {
  const dir = dirname(file);
  const name = basename(file);
  return (
    `To repair: copy the folder ${dir} aside first; then restore it from a backup (or, with Kafka, rebuild it from the topic), ` +
    `or recover what SQLite can still read: \`sqlite3 ${name} ".recover" | sqlite3 ${name}.recovered\`, move ${name}, ${name}-wal and ${name}-shm aside, ` +
    `rename ${name}.recovered to ${name}, start with PARLEY_ACCEPT_LOST_EVENTS=1 and run \`parley verify --anchors\`: it names every run that was lost or changed.`
  );
}

export function damagedLog(file: string, what: string): ParleyError {
  return new ParleyError(
    'EVENT_STORE.DAMAGED',
    `the event log ${file} is damaged: ${what}. Parley will not serve it: it would serve a shorter or altered history without a word. ${repairAdvice(file)}`,
    'unavailable',
    undefined,
    { file },
  );
}

/** SQLite's error for a file that is no database or a malformed one, while opening. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * The write-ahead log, read before SQLite opens it: SQLite replays frames up to the first one whose
 * checksum fails and silently drops every later one, committed runs included. Frames after a bad
 * one that still carry the log's current salts are such committed frames (a torn last write from a
 * crash has none after it; frames of an older generation have other salts): the log is damaged.
 */
export function checkWal(file: string): void {
  const wal = `${file}-wal`;
  let size: number;
  try {
    size = statSync(wal).size;
  } catch {
    return; // no WAL: a clean shutdown checkpointed and truncated it
  }
  if (size < 32) return;
  const fd = openSync(wal, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    const magic = header.readUInt32BE(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683)
      throw damagedLog(file, `${wal} does not begin with a write-ahead log header`);
    const bigEndian = (magic & 1) === 1;
    const pageSize = header.readUInt32BE(8);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
      throw damagedLog(file, `${wal} names an impossible page size (${pageSize})`);
    let [s0, s1] = checksum(header.subarray(0, 24), 0, 0, bigEndian);
    if (s0 !== header.readUInt32BE(24) || s1 !== header.readUInt32BE(28))
      throw damagedLog(file, `the header of ${wal} does not match its checksum`);
    const salt1 = header.readUInt32BE(16);
    const salt2 = header.readUInt32BE(20);
    const frameSize = 24 + pageSize;
    const frames = Math.floor((size - 32) / frameSize);
    const frame = Buffer.alloc(frameSize);
    let bad = -1;
    for (let i = 0; i < frames; i++) {
      readSync(fd, frame, 0, frameSize, 32 + i * frameSize);
      const current = frame.readUInt32BE(8) === salt1 && frame.readUInt32BE(12) === salt2;
      if (bad >= 0) {
        if (current)
          throw damagedLog(
            file,
            `frame ${bad + 1} of ${frames} in ${wal} (byte ${32 + bad * frameSize}) does not match its checksum, and ` +
              `frames after it hold later commits that SQLite would drop without a word`,
          );
        continue;
      }
      if (!current) {
        bad = i; // the end of this generation's frames (or a damaged salt: frames after it say which)
        continue;
      }
      [s0, s1] = checksum(frame.subarray(0, 8), s0, s1, bigEndian);
      [s0, s1] = checksum(frame.subarray(24), s0, s1, bigEndian);
      if (s0 !== frame.readUInt32BE(16) || s1 !== frame.readUInt32BE(20)) bad = i;
    }
  } finally {
    closeSync(fd);
  }
}

/** SQLite's WAL checksum: pairs of 32-bit words, cumulative, in the byte order the magic names. */
function checksum(data: Buffer, s0: number, s1: number, bigEndian: boolean): [number, number] {
  for (let i = 0; i + 8 <= data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * After opening: SQLite's own structural check (`PRAGMA quick_check`), then the whole hash chain of
 * every run written in the last RECENT_EVENTS events (a page damaged inside an event's JSON passes
 * quick_check; its hash does not). Throws EVENT_STORE.DAMAGED naming what is wrong.
 */
export function checkOpenedLog(log: SqliteLog, file: string): void {
  let problems: string[];
  try {
    problems = (log.db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
  } catch (error) {
    if (isCorruption(error)) throw damagedLog(file, `quick_check fails: ${(error as Error).message}`);
    throw error;
  }
  if (problems.length !== 1 || problems[0] !== 'ok')
    throw damagedLog(file, `quick_check says: ${problems.join('; ')}`);
  try {
    for (const runId of log.runsSince(log.lastPosition() - RECENT_EVENTS)) {
      const verifier = new ChainVerifier();
      let undecodable: number | undefined;
      for (const event of log.iterate(runId)) {
        verifier.push(event);
        // bytes that are no UTF-8 inside an event: the disk's damage, not an edit someone made
        if (undecodable === undefined && JSON.stringify(event).includes('\uFFFD')) undecodable = event.seq;
      }
      const verdict = verifier.result();
      // A run edited as text (valid JSON that no longer matches its hash) is served and quarantined
      // by the engine (never driven, /health names it); damage to the bytes refuses the whole log.
      if (!verdict.ok && undecodable !== undefined)
        throw damagedLog(
          file,
          `run ${runId} does not verify at seq ${verdict.seq} (${verdict.message}), and its event at seq ${undecodable} holds bytes that are no text`,
        );
    }
  } catch (error) {
    if (error instanceof ParleyError) throw error;
    if (isCorruption(error) || error instanceof SyntaxError)
      throw damagedLog(file, `reading its events fails: ${(error as Error).message}`);
    throw error;
  }
}
