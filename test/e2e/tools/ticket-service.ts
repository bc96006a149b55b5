import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A real local HTTP service that counts what it is sent: every request with its Idempotency-Key, and
 * the effects (tickets) it made: one per key, as a service that honours idempotency keys does.
 */
export class TicketService {
  readonly requests: Array<{
    method: string;
    url: string;
    key?: string;
    body: unknown;
    authorization?: string;
    traceparent?: string;
  }> = [];
  readonly tickets = new Map<string, { id: string; title: string }>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<TicketService> {
    const holder: { service?: TicketService } = {};
    const server = createServer((req, res) => {
      void readBody(req).then((text) => {
        const service = holder.service!;
        const key = req.headers['idempotency-key'] as string | undefined;
        const body = text ? JSON.parse(text) : undefined;
        service.requests.push({
          method: req.method!,
          url: req.url!,
          key,
          body,
          authorization: req.headers.authorization,
          traceparent: req.headers.traceparent as string | undefined,
        });
        if (req.url?.startsWith('/fail')) {
          res
            .writeHead(422, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'title is taken' }));
          return;
        }
        if (!key) {
          res.writeHead(400).end('Idempotency-Key required');
          return;
        }
        let ticket = service.tickets.get(key);
        if (!ticket) {
          ticket = { id: `T-${service.tickets.size + 1}`, title: String(body?.title) };
          service.tickets.set(key, ticket);
        }
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(ticket));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    holder.service = new TicketService(server, `http://127.0.0.1:${port}`);
    return holder.service;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
