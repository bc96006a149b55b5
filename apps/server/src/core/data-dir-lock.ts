import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config';

interface LockFile {
  pid: number;
  since: string;
}

/**
 * One server per data folder: `<dir>/parley.lock` names the process that serves it. A second server
 * on the folder stops at once, naming the folder and the other process (two writers on one SQLite
 * log and ledger would each see the other's writes late, and requests would hang on its locks). A
 * lock left by a process that is gone (a crash, SIGKILL) is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'parley.lock');
    const mine: LockFile = { pid: process.pid, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLock(file);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new ConfigError(
          'PARLEY_DATA_DIR',
          `${dataDir} is in use by another Parley server (pid ${holder.pid}, since ${holder.since}): stop it, or give this one another PARLEY_DATA_DIR`,
        );
      }
      try {
        unlinkSync(file); // left by a process that is gone: take it over
      } catch {
        // another starter took it over first: try again
      }
    }
    throw new ConfigError('PARLEY_DATA_DIR', `cannot lock ${dataDir} (${file})`);
  }

  /** Gives the folder up (only if the lock is still ours). */
  release(): void {
    if (readLock(this.file)?.pid !== process.pid) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already gone
    }
  }
}

function readLock(file: string): LockFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockFile>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, since: String(parsed.since) } : undefined;
  } catch {
    return undefined; // unreadable (being written, or garbage): treated as stale
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
