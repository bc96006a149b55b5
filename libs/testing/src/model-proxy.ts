import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedCall {
  n: number;
  body: {
    model?: string;
    messages?: Array<{ role: string; content: unknown }>;
    response_format?: { json_schema?: { name?: string } };
    /** Whether the client asked for server-sent events (a watched text answer) or the whole answer. */
    stream?: boolean;
  };
  held: boolean;
  /** The fault the proxy answered with instead of forwarding, if any. */
  fault?: ProxyFault;
}

/** An HTTP error status (with an optional `retry-after`), or the connection dropped without an answer. */
export type ProxyFault = { status: number; retryAfter?: string } | 'drop';

/**
 * A real HTTP proxy in front of a model server that records every chat completion request and
 * can hold one (not forward it) until released: a crash test kills Parley while a call is held.
 */
export class ModelProxy {
  readonly calls: ProxiedCall[] = [];
  private holdPredicate?: (call: ProxiedCall) => boolean;
  private faults: Array<{ fault: ProxyFault; left: number; when: (call: ProxiedCall) => boolean }> = [];
  private readonly heldResponses: Array<() => void> = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(targetBaseUrl: string): Promise<ModelProxy> {
    const target = new URL(targetBaseUrl);
    const holder: { proxy?: ModelProxy } = {};
    const server = createServer((req, res) => void holder.proxy!.handle(req, res, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.proxy = new ModelProxy(server, `http://127.0.0.1:${port}${target.pathname}`);
    return holder.proxy;
  }

  /** Hold (do not forward) the calls that match, until `release()`. */
  holdWhen(predicate: ((call: ProxiedCall) => boolean) | undefined): void {
    this.holdPredicate = predicate;
  }

  /**
   * Answer the next `count` chat completion requests that match `when` with `fault` instead of
   * forwarding them (`count` Infinity: until `clearFaults()`): a model that fails transiently.
   */
  failNext(count: number, fault: ProxyFault, when: (call: ProxiedCall) => boolean = () => true): void {
    this.faults.push({ fault, left: count, when });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Stop listening: new connections are refused (ECONNREFUSED), open ones are closed. */
  async refuseConnections(): Promise<void> {
    await new Promise((resolve) => {
      this.server.close(resolve);
      this.server.closeAllConnections();
    });
  }

  /** Listen again on the same port. */
  async acceptConnections(): Promise<void> {
    const { port } = new URL(this.url);
    await new Promise<void>((resolve) => this.server.listen(Number(port), '127.0.0.1', resolve));
  }

  release(): void {
    this.holdPredicate = undefined;
    for (const go of this.heldResponses.splice(0)) go();
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, target: URL): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (req.url?.endsWith('/chat/completions')) {
      const call: ProxiedCall = {
        n: this.calls.length + 1,
        body: JSON.parse(raw.toString() || '{}'),
        held: false,
      };
      this.calls.push(call);
      const rule = this.faults.find((f) => f.left > 0 && f.when(call));
      if (rule) {
        rule.left -= 1;
        call.fault = rule.fault;
        if (rule.fault === 'drop') {
          req.socket.destroy();
          return;
        }
        res.writeHead(rule.fault.status, {
          'content-type': 'application/json',
          ...(rule.fault.retryAfter !== undefined ? { 'retry-after': rule.fault.retryAfter } : {}),
        });
        res.end(
          JSON.stringify({
            error: {
              message: `injected by the model proxy: HTTP ${rule.fault.status}`,
              type: 'server_error',
            },
          }),
        );
        return;
      }
      if (this.holdPredicate?.(call)) {
        call.held = true;
        await new Promise<void>((resolve) => {
          this.heldResponses.push(resolve);
          req.socket.on('close', resolve);
        });
        if (req.socket.destroyed) return;
      }
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(raw);
  }
}
