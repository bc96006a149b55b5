/** Executable entry: `node dist/libs/model-offline/src/main.js` (env PORT, HOST, OFFLINE_MODEL_TOKEN_LATENCY_MS). */
import { startOfflineModelServer } from './server';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const server = await startOfflineModelServer({
    host: process.env.HOST || '127.0.0.1',
    port: intFromEnv('PORT', 11435),
    tokenLatencyMs: intFromEnv('OFFLINE_MODEL_TOKEN_LATENCY_MS', 0),
    log: process.env.OFFLINE_MODEL_QUIET
      ? undefined
      : (line) => process.stderr.write(`[model-offline] ${line}\n`),
  });
  process.stdout.write(`${server.url}\n`);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stderr.write(`[model-offline] ${signal}: shutting down\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[model-offline] failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
