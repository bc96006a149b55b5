/**
 * A client process of the fan-out benchmark: it holds a share of the WebSocket clients, so that
 * receiving (decoding 500 connections' frames) is spread over processes as it would be over the
 * users' machines, instead of one event loop whose own delay would be counted in every figure.
 *
 * Driven by its parent over IPC (`process.send`):
 *   connect {url, n, offset}  -> connected {allMs, each}
 *   watch {runId}             -> watched {heads}
 *   collect {timeoutMs}       -> collected {clients: ClientResult[], loopDelayP99Ms, loopDelayMaxMs}
 *                                 (once every client saw the run end)
 *   exit
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connectClients, type Client } from './fanout-client';

type Message =
  | { type: 'connect'; url: string; n: number; offset: number }
  | { type: 'watch'; runId: string }
  | { type: 'collect'; timeoutMs: number }
  | { type: 'exit' };

let clients: Client[] = [];
const loop = monitorEventLoopDelay({ resolution: 5 });

function reply(message: object): void {
  process.send!(message);
}

async function handle(message: Message): Promise<void> {
  switch (message.type) {
    case 'connect': {
      const connected = await connectClients(message.url, message.n, message.offset);
      clients = connected.clients;
      reply({ type: 'connected', allMs: connected.allMs, each: connected.each });
      return;
    }
    case 'watch': {
      loop.reset();
      loop.enable();
      const heads = await Promise.all(clients.map((c) => c.watch(message.runId)));
      reply({ type: 'watched', heads });
      return;
    }
    case 'collect': {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`not every client saw the run end in ${message.timeoutMs} ms`)),
          message.timeoutMs,
        ).unref(),
      );
      await Promise.race([Promise.all(clients.map((c) => c.done)), timeout]);
      loop.disable();
      reply({
        type: 'collected',
        clients: clients.map((c) => c.result()),
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
      });
      for (const c of clients) c.runId = ''; // stop recording
      return;
    }
    case 'exit':
      for (const c of clients) c.socket.close();
      process.exit(0);
  }
}

process.on('message', (message: Message) => {
  handle(message).catch((error: unknown) =>
    reply({ type: 'error', message: error instanceof Error ? error.stack : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
