import type { NextFunction, Request, Response } from 'express';
import type { ErrorBody } from '@parley/contracts';
import { TokenBucket } from '../realtime/token-bucket';

/** Buckets idle this long are full again and dropped (bounds the memory the limiter holds). */
const IDLE_MS = 60_000;

/**
 * A per-client rate limit on the REST API (`/api/*`): each client may make `perSecond` requests a
 * second, in bursts of twice that. A client is its bearer token when the token is known, otherwise
 * its address (so a flood of made-up tokens shares one bucket). Registered first, before the body
 * parsers: a request over the limit costs a map lookup and a 429 `REQUEST.RATE_LIMITED` with
 * `Retry-After`, nothing is parsed or appended, and other clients are not slowed by it.
 */
export function rateLimitPolicy(
  perSecond: number,
  isKnownToken: (authorization: string) => boolean,
): (req: Request, res: Response, next: NextFunction) => void {
  const buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  const sweep = setInterval(() => {
    const stale = Date.now() - IDLE_MS;
    for (const [key, entry] of buckets) if (entry.used < stale) buckets.delete(key);
  }, IDLE_MS);
  sweep.unref();
  return (req, res, next) => {
    if (!req.path.startsWith('/api/')) return next();
    const authorization = req.headers.authorization;
    const key =
      authorization && isKnownToken(authorization)
        ? `token:${authorization}`
        : `ip:${req.socket.remoteAddress}`;
    let entry = buckets.get(key);
    if (!entry) buckets.set(key, (entry = { bucket: new TokenBucket(perSecond, perSecond * 2), used: 0 }));
    entry.used = Date.now();
    if (entry.bucket.take()) return next();
    const body: ErrorBody = {
      error: {
        code: 'REQUEST.RATE_LIMITED',
        message: `more than ${perSecond} requests a second (bursts of ${perSecond * 2}) from this client; slow down`,
      },
    };
    res.setHeader('retry-after', '1');
    res.status(429).json(body);
  };
}
