/**
 * The parent side of watcher-process.ts: a fleet of socket.io clients spread over child
 * processes, driven over IPC.
 */
import { join } from 'node:path';
import { ChildRpc, TEST_USERS, shares, type TestUser } from '@parley/testing';
import type { CheckFigures, FleetRequest } from './watcher-process';

/** Watchers connect as these users in turn (every role may watch). */
const WATCHERS: TestUser[] = ['victor', 'carol', 'maya', 'alice', 'bob'];

export class WatcherFleet {
  private readonly children: ChildRpc<FleetRequest>[];
  private readonly sizes: number[];

  /** `clients` spread over `processes` child processes. */
  constructor(
    readonly clients: number,
    processes: number,
  ) {
    this.sizes = shares(clients, processes);
    this.children = this.sizes.map(() => ChildRpc.fork<FleetRequest>(join(__dirname, 'watcher-process.js')));
  }

  private all<T>(request: (p: number, offset: number) => FleetRequest): Promise<T[]> {
    let offset = 0;
    return Promise.all(
      this.children.map((child, p) => {
        const r = request(p, offset);
        offset += this.sizes[p];
        return child.ask<T>(r);
      }),
    );
  }

  /** Connect every client at once; connect time of each (ms from the start), and of all. */
  async connect(url: string): Promise<{ connectMs: number[]; allMs: number }> {
    const t0 = Date.now();
    const tokens = WATCHERS.map((u) => TEST_USERS[u].token);
    const answers = await this.all<{ connectMs: number[] }>((p) => ({
      op: 'connect',
      url,
      tokens,
      count: this.sizes[p],
    }));
    return { connectMs: answers.flatMap((a) => a.connectMs), allMs: Date.now() - t0 };
  }

  /** Client k (over the whole fleet) watches `runsOf(k)`, each from afterSeq 0. */
  async watch(runsOf: (k: number) => string[]): Promise<number> {
    const t0 = Date.now();
    await this.all((p, offset) => ({
      op: 'watch',
      runs: Array.from({ length: this.sizes[p] }, (_, i) => runsOf(offset + i)),
    }));
    return Date.now() - t0;
  }

  /** Every client's connection closes at once. */
  async drop(): Promise<void> {
    await this.all(() => ({ op: 'drop' }));
  }

  /** Wait until every client is back and has re-watched; reconnect times since each one's disconnect. */
  async reconnected(
    timeoutMs: number,
  ): Promise<{ reconnectMs: number[]; failures: string[]; notBack: number }> {
    const answers = await this.all<{ reconnectMs: number[]; failures: string[]; notBack: number }>(() => ({
      op: 'reconnected',
      timeoutMs,
    }));
    return {
      reconnectMs: answers.flatMap((a) => a.reconnectMs),
      failures: answers.flatMap((a) => a.failures),
      notBack: answers.reduce((s, a) => s + a.notBack, 0),
    };
  }

  /** Wait until every client holds its runs up to `heads`; the number of clients still behind. */
  async settle(heads: Record<string, number>, timeoutMs: number): Promise<number> {
    const answers = await this.all<{ behind: number }>(() => ({ op: 'settle', heads, timeoutMs }));
    return answers.reduce((s, a) => s + a.behind, 0);
  }

  async check(logs: Record<string, [number, string][]>): Promise<CheckFigures> {
    const parts = await this.all<CheckFigures>(() => ({ op: 'check', logs }));
    const sum = (k: keyof CheckFigures): number => parts.reduce((s, p) => s + (p[k] as number), 0);
    return {
      clients: sum('clients'),
      expected: sum('expected'),
      deliveries: sum('deliveries'),
      missing: sum('missing'),
      duplicates: sum('duplicates'),
      outOfOrder: sum('outOfOrder'),
      wrongHash: sum('wrongHash'),
      tokens: sum('tokens'),
      reconnects: sum('reconnects'),
      replayed: sum('replayed'),
      examples: parts.flatMap((p) => p.examples).slice(0, 10),
    };
  }

  /** Close every client and end the processes; their event-loop delay. */
  async close(): Promise<{ loopDelayP99Ms: number; loopDelayMaxMs: number }[]> {
    const answers = await this.all<{ loopDelayP99Ms: number; loopDelayMaxMs: number }>(() => ({
      op: 'close',
    })).catch(() => []);
    for (const c of this.children) c.process.disconnect();
    await Promise.all(this.children.map((c) => c.exited));
    return answers;
  }

  /** Kill the processes (after a failure). */
  kill(): void {
    for (const c of this.children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
  }
}
