import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChainVerifier, ParleyError } from '@parley/contracts';
import type { SqliteLog } from './sqlite-log';
import { isCorruption, openedLogProblem, walProblem } from './log-checks';
import type { LogCheckAnswer } from './log-check-worker';

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

export { isCorruption };

/** The write-ahead log, read before SQLite opens it (see `walProblem`): a damaged one is refused. */
export function checkWal(file: string): void {
  const problem = walProblem(file);
  if (problem) throw damagedLog(file, problem);
}

/**
 * After opening: SQLite's own structural check (`PRAGMA quick_check`), then the whole hash chain of
 * every run written in the last RECENT_EVENTS events (see `openedLogProblem`). Throws
 * EVENT_STORE.DAMAGED naming what is wrong.
 */
export function checkOpenedLog(log: SqliteLog, file: string): void {
  const problem = openedLogProblem(log.db, ChainVerifier);
  if (problem) throw damagedLog(file, problem);
}

/**
 * The same checks as opening a `SqliteEventStore` does (the write-ahead log, SQLite's structure, the
 * chains of the recently written runs), on the log of the data folder `dir`, in a worker thread: a
 * server starts them first and loads the rest meanwhile, then opens the store with
 * `checkedAlready` once this resolved. Rejects with EVENT_STORE.DAMAGED naming what is wrong.
 * Nothing may write to the log between this check and that open (the data folder's lock).
 */
export function checkLogInWorker(dir: string): Promise<void> {
  const file = join(dir, 'events.db');
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(join(__dirname, 'log-check-worker.js'), {
      workerData: { file, hashChainModule: require.resolve('@parley/contracts/hash-chain') },
    });
    let answered = false;
    worker.once('message', (answer: LogCheckAnswer) => {
      answered = true;
      if (answer.problem) reject(damagedLog(file, answer.problem));
      else if (answer.error)
        reject(
          Object.assign(new Error(`checking the event log ${file}: ${answer.error.message}`), {
            stack: answer.error.stack,
          }),
        );
      else resolve();
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered)
        reject(new Error(`checking the event log ${file}: the check's thread exited (code ${code})`));
    });
  });
}
