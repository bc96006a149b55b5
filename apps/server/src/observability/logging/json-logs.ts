import type { IncomingMessage, ServerResponse } from 'node:http';
import { trace } from '@opentelemetry/api';
import { Logger as NestPinoLogger, PinoLogger, type Params } from 'nestjs-pino';
import pino, { type Logger } from 'pino';
import { runLogFields, runOfRequestForLog } from './run-log-context';

const RUN_ID = /\brun ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/i;
const RUN_PATH = /\/api\/runs\/([^/?#]+)/;
const REQUEST_PATH = /\/api\/requests\/([^/?#]+)/;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
/** Query parameters that may carry a credential (a socket.io handshake can send the token so). */
const SECRET_QUERY = /([?&](?:token|access_token|api_key|apikey|key)=)[^&#]*/gi;
/** Paths scraped or probed every few seconds: their request lines would drown the rest. */
const QUIET_PATHS = new Set(['/metrics', '/health']);

/** Removes credentials from a text: bearer tokens, token query parameters, the configured secrets. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(BEARER, '$1[redacted]').replace(SECRET_QUERY, '$1[redacted]');
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('[redacted]');
  return out;
}

/**
 * The pino logger of the JSON format: one JSON object a line on stdout, ISO times, level names. A
 * line about a run carries `runId` (from the message, or the request's path: a run's, or a
 * request's, whose run the read model knows), and with tracing on the run's `traceId` (and its
 * `invoke_workflow` span as `spanId`) when the run recorded a trace, else the active span's; bearer
 * tokens, token query parameters and the configured secrets are replaced by `[redacted]` wherever
 * they appear (`secrets` may grow: the identities are read after the logger is made), and the
 * request's authorization and cookie headers are never written (only method, url and status are).
 */
export function jsonLogger(secrets: string[]): Logger {
  return pino({
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    mixin: () => {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { traceId: span.traceId, spanId: span.spanId } : {};
    },
    hooks: {
      logMethod(args, method) {
        const at = args.findIndex((arg) => typeof arg === 'string');
        if (at >= 0) {
          const message = redactSecrets(args[at] as string, secrets);
          args[at] = message;
          const runId = RUN_ID.exec(message)?.[1];
          if (runId) {
            // the run's own trace wins over the active span's: the line is about the run
            const fields = runLogFields(runId);
            if (at === 0) args.unshift(fields);
            else if (typeof args[0] === 'object' && args[0] !== null)
              args[0] = { ...fields, ...(args[0] as object) };
          }
        }
        for (const [i, arg] of args.entries())
          if (arg instanceof Error)
            args[i] = {
              err: {
                type: arg.name,
                message: redactSecrets(arg.message, secrets),
                stack: redactSecrets(arg.stack ?? '', secrets),
              },
            };
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  });
}

/**
 * One line for each HTTP request once its answer is sent (`request completed`; `request errored`
 * with a 5xx, `request aborted` when the client went away first), as pino-http wrote them: `req`
 * (`id`, a number counted from 1 in each process; `method`, `url` redacted, `remoteAddress`),
 * `res.statusCode`, `responseTime` (ms), the `runId` the path names, and with tracing on the
 * request's own span. `/metrics` and `/health` are not logged (scraped every few seconds).
 *
 * Written from the root logger, with no per-request child logger and no async context: the lines
 * the engine and the handlers log while a request is being handled are not bound to it (they carry
 * the run they are about, from their message). nestjs-pino's middleware bound them so with an
 * AsyncLocalStorage, and an AsyncLocalStorage in use makes Node run its promise hooks for every
 * promise the process creates (the model client's streaming makes thousands a run).
 */
export function requestLines(root: Logger, secrets: string[]) {
  let nextId = 0;
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '';
    if (QUIET_PATHS.has(url.split('?')[0])) return next();
    const t0 = Date.now();
    const id = (nextId = (nextId + 1) & 0x7fffffff);
    const span = trace.getActiveSpan()?.spanContext();
    res.once('close', () => {
      const requestId = REQUEST_PATH.exec(url)?.[1];
      const runId = RUN_PATH.exec(url)?.[1] ?? (requestId ? runOfRequestForLog(requestId) : undefined);
      const line: Record<string, unknown> = {
        req: {
          id,
          method: req.method,
          url: redactSecrets(url, secrets),
          remoteAddress: req.socket?.remoteAddress,
        },
        ...(runId ? { runId } : {}),
        ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
        res: { statusCode: res.statusCode },
        responseTime: Date.now() - t0,
      };
      if (!res.writableFinished) {
        line.err = { type: 'Error', message: 'Aborted' };
        root.info(line, 'request aborted');
      } else if (res.statusCode >= 500) {
        line.err = { type: 'Error', message: `failed with status code ${res.statusCode}` };
        root.info(line, 'request errored');
      } else root.info(line, 'request completed');
    });
    next();
  };
}

/** A Nest LoggerService over the same pino logger, for what is logged before Nest is up (and after). */
export function jsonNestLogger(root: Logger): NestPinoLogger {
  const params: Params = { pinoHttp: { logger: root } };
  return new NestPinoLogger(new PinoLogger(params), params);
}
