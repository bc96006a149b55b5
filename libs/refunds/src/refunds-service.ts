import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RefundLedger } from './refund-ledger';
import { IDEMPOTENCY_KEY_HEADER, RefundRequestSchema, type RefundRow } from './wire';

export interface RefundsServiceOptions {
  /** The ledger's folder (`refunds.db` in it), or `:memory:`. */
  dataDir: string;
  port?: number;
  host?: string;
  /** One line per request and at start. Default: none. */
  log?: (line: string) => void;
}

export interface RunningRefundsService {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Largest request body accepted (a refund is a few hundred bytes). */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The refunds service: the payment API the example workflows' `process_refund` tool calls, one
 * service shared by every Parley instance. `POST /refunds` applies each `Idempotency-Key` once: the
 * same key again answers the refund already made (200, `replayed: true`), so an owner paused in the
 * middle of a refund and the instance that took its run over make it once between them. The same
 * key with another body is refused (422), as payment APIs do. `GET /refunds?runId=&orderId=` lists.
 */
export async function startRefundsService(options: RefundsServiceOptions): Promise<RunningRefundsService> {
  const ledger = new RefundLedger(options.dataDir);
  const log = options.log ?? (() => undefined);
  const server = createServer((req, res) => {
    handle(ledger, req, res, log).catch((error: Error) => {
      log(`refunds-service: ${req.method} ${req.url}: ${error.stack ?? error.message}`);
      if (!res.headersSent) send(res, 500, problem('INTERNAL', 'the refunds service failed'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log(`refunds service listening on ${url} (ledger: ${options.dataDir})`);
  return {
    url,
    server,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ledger.close();
    },
  };
}

async function handle(
  ledger: RefundLedger,
  req: IncomingMessage,
  res: ServerResponse,
  log: (line: string) => void,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://refunds');
  if (url.pathname === '/health' && req.method === 'GET') return send(res, 200, { status: 'ok' });
  if (url.pathname !== '/refunds') return send(res, 404, problem('NOT_FOUND', `no route ${url.pathname}`));
  if (req.method === 'GET') {
    const runId = url.searchParams.get('runId');
    const orderId = url.searchParams.get('orderId');
    let refunds: RefundRow[] = orderId ? ledger.forOrder(orderId) : ledger.list(runId ?? undefined);
    if (orderId && runId) refunds = refunds.filter((r) => r.runId === runId);
    return send(res, 200, { refunds });
  }
  if (req.method !== 'POST') return send(res, 405, problem('METHOD_NOT_ALLOWED', `${req.method} /refunds`));
  const key = req.headers[IDEMPOTENCY_KEY_HEADER];
  if (typeof key !== 'string' || key.length === 0 || key.length > 255)
    return send(
      res,
      400,
      problem(
        'IDEMPOTENCY_KEY_MISSING',
        'an Idempotency-Key header (1-255 characters) is required',
        'Idempotency-Key',
      ),
    );
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch (error) {
    return send(res, 400, problem('INVALID_JSON', `the body is not JSON: ${(error as Error).message}`));
  }
  const parsed = RefundRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return send(res, 400, problem('INVALID_REFUND', issue.message, issue.path.join('.') || undefined));
  }
  const request = parsed.data;
  const { row, existed } = ledger.apply({ idempotencyKey: key, ...request }, new Date());
  if (
    existed &&
    (row.runId !== request.runId || row.orderId !== request.orderId || row.amount !== request.amount)
  )
    return send(
      res,
      422,
      problem(
        'IDEMPOTENCY_KEY_REUSED',
        `the key ${key} was used for another refund (${row.refundId})`,
        'Idempotency-Key',
      ),
    );
  log(`refund ${row.refundId} ${existed ? 'replayed' : 'made'}: ${row.orderId} ${row.amount} (key ${key})`);
  return send(res, existed ? 200 : 201, { refund: row, replayed: existed });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function problem(code: string, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
