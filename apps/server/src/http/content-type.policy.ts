import type { NextFunction, Request, Response } from 'express';
import type { ErrorBody } from '@parley/contracts';

/** Routes that take NDJSON (a stream of lines read by the handler, never by a body parser). */
const NDJSON_ROUTES = new Set(['/api/import']);

/**
 * The REST API takes JSON bodies only (and NDJSON on `/api/import`). Registered before the body
 * parsers, so a body of another type is refused with 415 before anything reads it: a form post is
 * not quietly turned into a command, and an import sent as `application/json` is not swallowed by
 * the JSON parser (the handler would then wait for a stream that has already ended).
 */
export function contentTypePolicy(req: Request, res: Response, next: NextFunction): void {
  if (!req.path.startsWith('/api/') || !hasBody(req)) return next();
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (NDJSON_ROUTES.has(req.path)) {
    if (type === 'application/json' || type === 'application/x-www-form-urlencoded' || type === '')
      return refuse(res, type, 'an NDJSON export (content-type: application/x-ndjson)');
    return next();
  }
  if (type !== 'application/json') return refuse(res, type, 'a JSON body (content-type: application/json)');
  next();
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function refuse(res: Response, type: string, expected: string): void {
  const body: ErrorBody = {
    error: {
      code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE',
      message: `expected ${expected}, got ${type ? `"${type}"` : 'no content-type'}`,
      field: 'content-type',
    },
  };
  res.status(415).json(body);
}
