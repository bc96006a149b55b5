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
 * `invoke_workflow` span as `spanId`) when the run recorded a trace, else the active span's; bearer tokens, token query parameters and the configured secrets are replaced by
 * `[redacted]` wherever they appear (`secrets` may grow: the identities are read after the logger is made), and the request's authorization and cookie headers are never
 * written (only method, url and status are).
 */
export function jsonLogParams(secrets: string[]): Params {
  const root: Logger = pino({
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
  return {
    pinoHttp: {
      logger: root,
      autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]) },
      // a request line's traceId is its own request's span (the mixin); runId is the run it is about
      customProps: (req: IncomingMessage) => {
        const url = req.url ?? '';
        const requestId = REQUEST_PATH.exec(url)?.[1];
        const runId = RUN_PATH.exec(url)?.[1] ?? (requestId ? runOfRequestForLog(requestId) : undefined);
        return runId ? { runId } : {};
      },
      serializers: {
        req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactSecrets(req.url ?? '', secrets),
          remoteAddress: req.remoteAddress,
        }),
        res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      },
    },
  };
}

/** A Nest LoggerService over the same pino logger, for what is logged before Nest is up (and after). */
export function jsonNestLogger(params: Params): NestPinoLogger {
  return new NestPinoLogger(new PinoLogger(params), params);
}
