import 'reflect-metadata';
import { ParleyError } from '@parley/contracts';
import { checkLogInWorker } from '@parley/event-store';
import { ConfigError, loadConfig } from './config/config';
import { DataDirLock } from './core/data-dir-lock';

/**
 * Start-up, in the order that makes it quick: the configuration (bad configuration stops the server
 * with one clear line, before anything else), the data folder's lock, then the check of the SQLite
 * log (its write-ahead log, structure and recent chains) in a worker thread, and only then the rest
 * of the server's code (Nest, its HTTP and socket stack, the API docs): the check runs while that
 * loads. The store is opened when the check has passed (`openEventLog`), so nothing reads or
 * writes a log that was not checked, and a damaged one is refused as before.
 */
async function bootstrap(): Promise<void> {
  const config = loadConfig(); // fail fast, before Nest prints anything
  const lock = DataDirLock.acquire(config.dataDir);
  try {
    const logCheck = config.eventLog === 'sqlite' ? checkLogInWorker(config.dataDir) : undefined;
    logCheck?.catch(() => undefined); // its verdict is awaited when the store is opened
    // loaded now, synchronously, while the check runs (a dynamic import would wait a turn first)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { serve } = require('./serve') as typeof import('./serve');
    await serve(config, { lock, logCheck });
  } catch (error) {
    lock.release();
    throw error;
  }
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof ParleyError) {
    process.stderr.write(`parley: cannot start: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
    process.stderr.write(
      `parley: cannot start: PORT: ${(error as Error).message} (set PORT to a free port)\n`,
    );
  } else {
    process.stderr.write(`parley: cannot start: ${error instanceof Error ? error.stack : String(error)}\n`);
  }
  process.exit(1);
});
