import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HttpClient } from './http-client';

/** The repository root (tests run from dist/, compiled from the repo). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');

/** Test users: one per role, plus a custom role. */
export const TEST_USERS = {
  admin: { token: 'admin-token-0123456789abcdef', id: 'root', roles: ['admin'] },
  alice: { token: 'alice-token-0123456789abcdef', id: 'alice', roles: ['approver'] },
  bob: { token: 'bob-token-0123456789abcdefgh', id: 'bob', roles: ['approver'] },
  carol: { token: 'carol-token-0123456789abcdef', id: 'carol', roles: ['participant'] },
  victor: { token: 'victor-token-0123456789abcde', id: 'victor', roles: ['viewer'] },
  maya: { token: 'maya-token-0123456789abcdefg', id: 'maya', roles: ['participant', 'manager'] },
} as const;
export type TestUser = keyof typeof TEST_USERS;

export interface ParleyOptions {
  /** Reuse a data folder (a restart); default: a new temporary one. */
  dataDir?: string;
  env?: Record<string, string>;
  eventLog?: 'sqlite' | 'kafka';
  /** Write the test users' tokens file (default true). */
  tokens?: boolean;
  /** Node options for the server process itself (e.g. `--cpu-prof`, not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** How long the server may take to listen (default 30 s; a large data folder takes longer). */
  startTimeoutMs?: number;
}

/** A real Parley server process, on a free port, with its own data folder. */
export class ParleyProcess {
  readonly output: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    exited: Promise<number | null>,
  ) {
    this.exited = exited;
  }

  static async start(options: ParleyOptions = {}): Promise<ParleyProcess> {
    const ownsDataDir = !options.dataDir;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-e2e-'));
    const tokensFile = join(dataDir, 'test-tokens.json');
    if (options.tokens !== false) writeFileSync(tokensFile, JSON.stringify(Object.values(TEST_USERS)));
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      PORT: '0',
      HOST: '127.0.0.1',
      PARLEY_DATA_DIR: dataDir,
      PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'workflows'),
      PARLEY_EVENT_LOG: options.eventLog ?? 'sqlite',
      // text lines, as on a terminal (without colours): tests match log messages as written. The
      // JSON format (the default on a pipe) has its own tests, which unset this (a blank value).
      PARLEY_LOG_FORMAT: 'text',
      ...(options.tokens !== false ? { PARLEY_TOKENS_FILE: tokensFile } : {}),
      ...options.env,
    };
    delete env.OPENAI_API_KEY;
    delete env.OPENAI_BASE_URL;
    Object.assign(env, options.env ?? {});
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), join(REPO_ROOT, 'bin', 'server.js')],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const output: string[] = [];
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    const url = await new Promise<string>((resolveUrl, reject) => {
      const startTimeoutMs = options.startTimeoutMs ?? 30_000;
      const timer = setTimeout(
        () => reject(new Error(`Parley did not start in ${startTimeoutMs / 1000} s:\n${output.join('')}`)),
        startTimeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        output.push(text);
        const match = /Parley listening on (http:\/\/localhost:\d+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1].replace('localhost', '127.0.0.1'));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`Parley exited with code ${code} before it was ready:\n${output.join('')}`));
      });
    });
    const server = new ParleyProcess(child, url, dataDir, ownsDataDir, exited);
    server.output.push(...output);
    child.stdout!.on('data', (c: Buffer) => server.output.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => server.output.push(c.toString()));
    return server;
  }

  /** A client acting as a test user; `null` for no token at all. */
  client(user: TestUser | null = 'admin'): HttpClient {
    return new HttpClient(this.url, user ? TEST_USERS[user].token : undefined);
  }

  /** SIGKILL: no shutdown hooks, no flush; what the log holds is all that survives. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
