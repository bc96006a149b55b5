/**
 * A child process holding many socket.io clients (WebSocket transport, one connection each) that
 * watch runs, for the reconnect-storm test: so that the clients' work does not share an event loop
 * with the test. Driven over IPC by `WatcherFleet` (watchers.ts); never run by the test runner.
 *
 * Each client records every `run:event` it receives, in arrival order, duplicates included. After
 * any disconnect it reconnects (socket.io's own reconnection) and sends
 * `run:watch {runId, afterSeq: <the last seq it received>}` for each of its runs, as
 * docs/WEBSOCKET.md tells clients to. `check` compares what each client holds with the stored logs.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { EventEnvelope } from '@parley/contracts';
import { serveRpc } from '@parley/testing';

export type FleetRequest =
  | { op: 'connect'; url: string; tokens: string[]; count: number }
  | { op: 'watch'; runs: string[][] }
  | { op: 'drop' }
  | { op: 'reconnected'; timeoutMs: number }
  | { op: 'settle'; heads: Record<string, number>; timeoutMs: number }
  | { op: 'check'; logs: Record<string, [number, string][]> }
  | { op: 'close' };

export interface CheckFigures {
  clients: number;
  /** Events each client should hold (the stored logs of its runs), summed. */
  expected: number;
  /** `run:event`s received, duplicates included. */
  deliveries: number;
  missing: number;
  duplicates: number;
  /** Received after an event with a higher (or the same) seq. */
  outOfOrder: number;
  /** Same run and seq as stored, but not the same hash. */
  wrongHash: number;
  tokens: number;
  /** Reconnections (each: a disconnect, then every run re-watched). */
  reconnects: number;
  /** Events sent again by the server in the re-watches' catch-ups (`ack.replayed`). */
  replayed: number;
  examples: string[];
}

interface Held {
  seqs: number[];
  hashes: string[];
}

class Client {
  readonly held = new Map<string, Held>();
  runs: string[] = [];
  tokens = 0;
  reconnects = 0;
  replayed = 0;
  /** Date.now() of the last disconnect not yet followed by a complete re-watch. */
  downSince?: number;
  readonly reconnectMs: number[] = [];
  readonly failures: string[] = [];
  private connectedOnce = false;

  constructor(readonly socket: Socket) {
    socket.on('run:event', (event: EventEnvelope) => {
      let held = this.held.get(event.runId);
      if (!held) this.held.set(event.runId, (held = { seqs: [], hashes: [] }));
      held.seqs.push(event.seq);
      held.hashes.push(event.hash);
    });
    socket.on('run:token', () => {
      this.tokens += 1;
    });
    socket.on('disconnect', () => {
      this.downSince ??= Date.now();
    });
    socket.on('connect', () => {
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        return;
      }
      this.rewatch().catch((error: unknown) => this.failures.push(`re-watch: ${String(error)}`));
    });
  }

  last(runId: string): number {
    return this.held.get(runId)?.seqs.at(-1) ?? 0;
  }

  async watch(afterSeq: (runId: string) => number): Promise<number> {
    let replayed = 0;
    for (const runId of this.runs) {
      const ack = (await this.socket.timeout(60_000).emitWithAck('run:watch', {
        runId,
        afterSeq: afterSeq(runId),
      })) as { ok: boolean; replayed: number; error?: unknown };
      if (!ack.ok) throw new Error(`run:watch ${runId}: ${JSON.stringify(ack.error)}`);
      replayed += ack.replayed;
    }
    return replayed;
  }

  private async rewatch(): Promise<void> {
    const replayed = await this.watch((runId) => this.last(runId));
    this.replayed += replayed;
    this.reconnects += 1;
    if (this.downSince !== undefined) this.reconnectMs.push(Date.now() - this.downSince);
    this.downSince = undefined;
  }
}

const clients: Client[] = [];
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function handle(request: FleetRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect': {
      const t0 = Date.now();
      const connectMs: number[] = [];
      const sockets = Array.from({ length: request.count }, (_, i) =>
        io(request.url, {
          auth: { token: request.tokens[i % request.tokens.length] },
          transports: ['websocket'],
          forceNew: true,
          timeout: 60_000,
          // a storm: every client back at once, then quick retries while the server is away
          reconnectionDelay: 100,
          reconnectionDelayMax: 1_000,
          randomizationFactor: 0.5,
        }),
      );
      clients.push(...sockets.map((s) => new Client(s)));
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve, reject) => {
              s.once('connect', () => {
                connectMs.push(Date.now() - t0);
                resolve();
              });
              s.once('connect_error', reject);
            }),
        ),
      );
      return { connectMs };
    }
    case 'watch': {
      clients.forEach((c, i) => (c.runs = request.runs[i] ?? []));
      const t0 = Date.now();
      await Promise.all(clients.map((c) => c.watch(() => 0)));
      return { watchAllMs: Date.now() - t0 };
    }
    case 'drop': {
      // every client loses its connection at the same moment (the transport closes under it, as
      // when a network drops); socket.io reconnects by itself
      const at = Date.now();
      for (const c of clients) c.socket.io.engine.close();
      return { at };
    }
    case 'reconnected': {
      const away = (): number =>
        clients.filter((c) => c.downSince !== undefined || !c.socket.connected).length;
      await waitUntil(
        'every client to reconnect and re-watch its runs',
        () => away() === 0,
        request.timeoutMs,
      ).catch(() => undefined);
      const reconnectMs = clients.flatMap((c) => c.reconnectMs.splice(0));
      const failures = clients.flatMap((c) => c.failures.splice(0));
      return { reconnectMs, failures, notBack: away() };
    }
    case 'settle': {
      const behind = (): Client[] =>
        clients.filter((c) => c.runs.some((runId) => c.last(runId) < request.heads[runId]));
      try {
        await waitUntil(
          'every client to hold its runs up to their heads',
          () => behind().length === 0,
          request.timeoutMs,
        );
        return { behind: 0 };
      } catch {
        return { behind: behind().length };
      }
    }
    case 'check':
      return check(request.logs);
    case 'close':
      for (const c of clients) c.socket.close();
      return {
        loopDelayP99Ms: Number((loop.percentile(99) / 1e6).toFixed(1)),
        loopDelayMaxMs: Number((loop.max / 1e6).toFixed(1)),
      };
  }
}

function check(logs: Record<string, [number, string][]>): CheckFigures {
  const f: CheckFigures = {
    clients: clients.length,
    expected: 0,
    deliveries: 0,
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    wrongHash: 0,
    tokens: 0,
    reconnects: 0,
    replayed: 0,
    examples: [],
  };
  clients.forEach((c, ci) => {
    f.tokens += c.tokens;
    f.reconnects += c.reconnects;
    f.replayed += c.replayed;
    for (const [runId, held] of c.held) {
      if (!c.runs.includes(runId)) {
        f.examples.push(`client ${ci}: events of a run it does not watch (${runId})`);
        f.outOfOrder += held.seqs.length;
      }
    }
    for (const runId of c.runs) {
      const stored = logs[runId] ?? [];
      const held = c.held.get(runId) ?? { seqs: [], hashes: [] };
      const hashOf = new Map(stored);
      f.expected += stored.length;
      f.deliveries += held.seqs.length;
      const seen = new Set<number>();
      let previous = 0;
      held.seqs.forEach((seq, i) => {
        if (seen.has(seq)) f.duplicates += 1;
        seen.add(seq);
        if (seq <= previous) f.outOfOrder += 1;
        previous = Math.max(previous, seq);
        if (hashOf.get(seq) !== held.hashes[i]) f.wrongHash += 1;
      });
      const missing = stored.filter(([seq]) => !seen.has(seq)).length;
      f.missing += missing;
      if ((missing || held.seqs.length !== stored.length) && f.examples.length < 5)
        f.examples.push(
          `client ${ci}, run ${runId}: held ${held.seqs.join(',')}; stored 1..${stored.length}`,
        );
    }
  });
  return f;
}

serveRpc(handle);
