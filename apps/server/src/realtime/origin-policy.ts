import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Which browser origins may open a socket: the configured ones (PARLEY_ALLOWED_ORIGINS) and the
 * server's own. A request without an Origin header is not from a browser page and is allowed
 * (the bearer token still decides who it is).
 */
export class OriginPolicy {
  private readonly allowed: Set<string>;

  constructor(allowedOrigins: string[]) {
    this.allowed = new Set(allowedOrigins.map(normalise).filter((o): o is string => o !== undefined));
  }

  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined || origin === '') return true;
    const normalised = normalise(origin);
    if (!normalised) return false;
    if (this.allowed.has(normalised)) return true;
    // the server's own origin: the page was served by this host
    return host !== undefined && new URL(normalised).host === host.toLowerCase();
  }

  /** engine.io `allowRequest`: runs for every HTTP request and WebSocket upgrade of the socket path. */
  allowRequest = (
    req: IncomingMessage,
    callback: (err: string | null | undefined, success: boolean) => void,
  ): void => {
    const ok = this.allows(header(req, 'origin'), header(req, 'host'));
    callback(ok ? null : 'origin not allowed', ok);
  };

  /**
   * engine.io middleware: CORS headers for allowed cross-origin browsers (HTTP long-polling needs
   * them; WebSocket does not). A refused origin gets none, and `allowRequest` answers 403.
   */
  cors = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const origin = header(req, 'origin');
    if (origin && this.allows(origin, header(req, 'host'))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET,POST');
        res.setHeader(
          'Access-Control-Allow-Headers',
          header(req, 'access-control-request-headers') ?? 'content-type,authorization',
        );
        res.writeHead(204, { 'Content-Length': '0' });
        res.end();
        return;
      }
    }
    next();
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `https://Example.com:443/` → `https://example.com`; undefined when not an http(s) origin. */
function normalise(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}
