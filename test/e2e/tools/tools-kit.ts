import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@parley/testing';

/** The real MCP servers installed as devDependencies. */
export const FILESYSTEM_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js',
);
export const EVERYTHING_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

/** Write a tools file (JSON) into a new temporary folder; returns its path. */
export function writeToolsFile(content: unknown, name = 'parley.tools.json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tools-'));
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** server-everything over Streamable HTTP, as its own process on a free port (or on `port`: a restart). */
export async function startEverythingServer(port?: number): Promise<{
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}> {
  port ??= await freePort();
  const child = spawn(process.execPath, [EVERYTHING_SERVER, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server-everything did not start:\n${output.join('')}`)),
      20_000,
    );
    const onData = (chunk: Buffer): void => {
      output.push(chunk.toString());
      if (/listening on port/i.test(output.join(''))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`server-everything exited (${code}):\n${output.join('')}`)),
    );
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
