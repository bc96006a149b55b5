/**
 * A worker thread's entry: the checks of a log file before it is served (`checkLogInWorker`), on a
 * read-only connection of its own. It loads only better-sqlite3, `log-checks` and the chain verifier
 * (the module path the parent resolved), so that it starts quickly while the server loads.
 */
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ChainVerifier } from '@parley/contracts';
import { isCorruption, openedLogProblem, walProblem } from './log-checks';

/** What the worker answers: a problem (the log is damaged), an error (the check could not run), or neither. */
export interface LogCheckAnswer {
  problem?: string;
  error?: { message: string; stack?: string };
}

function check(file: string, hashChainModule: string): string | undefined {
  const wal = walProblem(file);
  if (wal) return wal;
  if (!existsSync(file)) return undefined; // a new data folder: nothing to check
  let db: Database.Database;
  try {
    // read-only: closing it never checkpoints the WAL (the server's own connection does that)
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    if (isCorruption(error)) return `SQLite cannot open it: ${(error as Error).message}`;
    throw error;
  }
  try {
    // the verifier alone (the module path the parent resolved), not the whole contracts library
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ChainVerifier: Verifier } = require(hashChainModule) as { ChainVerifier: typeof ChainVerifier };
    return openedLogProblem(db, Verifier);
  } finally {
    db.close();
  }
}

const { file, hashChainModule } = workerData as { file: string; hashChainModule: string };
let answer: LogCheckAnswer;
try {
  answer = { problem: check(file, hashChainModule) };
} catch (error) {
  answer = { error: { message: (error as Error)?.message ?? String(error), stack: (error as Error)?.stack } };
}
parentPort!.postMessage(answer);
