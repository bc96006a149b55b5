import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startRefundsService } from './refunds-service';

/**
 * `npm run refunds:start`: the shared refunds service for a cluster of Parley instances on this
 * machine (set PARLEY_REFUNDS_URL to its URL on each). REFUNDS_PORT (default 4100), REFUNDS_HOST
 * (default 127.0.0.1), REFUNDS_DATA_DIR (default ./data/refunds-service).
 */
async function main(): Promise<void> {
  const port = Number(process.env.REFUNDS_PORT ?? 4100);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REFUNDS_PORT=${process.env.REFUNDS_PORT} is not a port`);
  const dataDir = resolve(process.env.REFUNDS_DATA_DIR ?? 'data/refunds-service');
  mkdirSync(dataDir, { recursive: true });
  const service = await startRefundsService({
    dataDir,
    port,
    host: process.env.REFUNDS_HOST ?? '127.0.0.1',
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const stop = (): void => {
    void service.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: Error) => {
  process.stderr.write(`refunds service: ${error.message}\n`);
  process.exit(1);
});
