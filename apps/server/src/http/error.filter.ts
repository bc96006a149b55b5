import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ParleyError, type ErrorBody } from '@parley/contracts';

const STATUS: Record<ParleyError['kind'], number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  too_large: 413,
};

/** Coded errors become HTTP answers here, at the edge: `{error: {code, message, field?}}`. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host
      .switchToHttp()
      .getResponse<{ status(code: number): { json(body: unknown): void } }>();
    let status = 500;
    let body: ErrorBody = { error: { code: 'INTERNAL', message: 'internal error' } };
    if (exception instanceof ParleyError) {
      status = exception.code === 'EVENT_STORE.CONCURRENCY' ? 409 : STATUS[exception.kind];
      body = { error: exception.toJSON() };
    } else if (bodyParserError(exception)) {
      ({ status, body } = bodyParserError(exception)!);
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const r = exception.getResponse();
      const message =
        typeof r === 'string' ? r : String((r as { message?: unknown }).message ?? exception.message);
      const badJson = status === 400 && /JSON/i.test(message);
      const code = badJson
        ? 'REQUEST.INVALID_JSON'
        : status === 404
          ? 'HTTP.NOT_FOUND'
          : status === 400
            ? 'HTTP.BAD_REQUEST'
            : `HTTP.${status}`;
      body = { error: { code, message: badJson ? `the body is not valid JSON (${message})` : message } };
    } else {
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    }
    response.status(status).json(body);
  }
}

/**
 * Errors of the body parsers (express's body-parser, before any controller): a body over the limit,
 * an unsupported content-encoding or charset, a broken gzip stream, an aborted upload. They carry
 * a 4xx `status` and a `type`; they are the client's fault and get a coded 4xx, never a 500.
 */
function bodyParserError(exception: unknown): { status: number; body: ErrorBody } | undefined {
  const e = exception as { status?: unknown; type?: unknown; expose?: unknown; limit?: unknown } | null;
  if (
    !(exception instanceof Error) ||
    exception instanceof HttpException ||
    typeof e?.status !== 'number' ||
    e.status < 400 ||
    e.status > 499
  )
    return undefined;
  const type = typeof e.type === 'string' ? e.type : '';
  const coded: Record<string, [number, string, string]> = {
    'entity.too.large': [413, 'REQUEST.TOO_LARGE', `the body is over the limit of ${String(e.limit)} bytes`],
    'encoding.unsupported': [415, 'REQUEST.UNSUPPORTED_ENCODING', exception.message],
    'charset.unsupported': [415, 'REQUEST.UNSUPPORTED_CHARSET', exception.message],
    'entity.parse.failed': [400, 'REQUEST.INVALID_JSON', `the body is not valid JSON (${exception.message})`],
  };
  const [status, code, message] = coded[type] ?? [
    e.status,
    'REQUEST.INVALID_BODY',
    `the body could not be read (${exception.message})`,
  ];
  return { status, body: { error: { code, message } } };
}
