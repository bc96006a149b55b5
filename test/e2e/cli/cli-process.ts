import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, TEST_USERS, type TestUser } from '@parley/testing';

export const BIN = join(REPO_ROOT, 'bin', 'parley.js');

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real bin, as a child process, acting as a test user through PARLEY_URL / PARLEY_TOKEN. */
export class Cli {
  constructor(
    readonly url: string,
    readonly user: TestUser | null,
  ) {}

  spawn(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        ...process.env,
        PARLEY_URL: this.url,
        PARLEY_TOKEN: this.user ? TEST_USERS[this.user].token : '',
        NODE_OPTIONS: '',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
    const done = new Promise<Outcome>((resolve) => child.on('close', (code) => resolve({ code, ...out })));
    return { child, out, done };
  }

  run(...args: string[]): Promise<Outcome> {
    return this.spawn(args).done;
  }
}

/** One command line of the real bin as the admin test user against `url`. */
export function cli(url: string, args: string[]): Promise<Outcome> {
  return new Cli(url, 'admin').run(...args);
}
