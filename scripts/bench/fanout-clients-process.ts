/**
 * A client process of the fan-out benchmark: it holds a share of the WebSocket clients, so that
 * receiving (decoding 500 connections' frames) is spread over processes as it would be over the
 * users' machines, instead of one event loop whose own delay would be counted in every figure.
 *
 * Driven by its parent over IPC (`ChildRpc`, libs/testing):
 *   connect {url, n, offset}  -> {allMs, each}
 *   watch {runId}             -> the heads the clients' watches were acked with
 *   collect {timeoutMs}       -> Collected (once every client saw the run end)
 * It exits when the parent disconnects.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveRpc } from '@parley/testing';
import { connectClients, type Client, type ClientResult } from './fanout-client';

export type ClientsRequest =
  | { type: 'connect'; url: string; n: number; offset: number }
  | { type: 'watch'; runId: string }
  | { type: 'collect'; timeoutMs: number };

/** What the clients of one process saw of one debate, and that process's event-loop delay. */
export interface Collected {
  clients: ClientResult[];
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

let clients: Client[] = [];
const loop = monitorEventLoopDelay({ resolution: 5 });

async function handle(request: ClientsRequest): Promise<unknown> {
  switch (request.type) {
    case 'connect': {
      const connected = await connectClients(request.url, request.n, request.offset);
      clients = connected.clients;
      return { allMs: connected.allMs, each: connected.each };
    }
    case 'watch': {
      loop.reset();
      loop.enable();
      return Promise.all(clients.map((c) => c.watch(request.runId)));
    }
    case 'collect': {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`not every client saw the run end in ${request.timeoutMs} ms`)),
          request.timeoutMs,
        ).unref(),
      );
      await Promise.race([Promise.all(clients.map((c) => c.done)), timeout]);
      loop.disable();
      const collected: Collected = {
        clients: clients.map((c) => c.result()),
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
      };
      for (const c of clients) c.runId = ''; // stop recording
      return collected;
    }
  }
}

if (require.main === module) serveRpc(handle);
