import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ParleyError, type ErrorBody } from '@parley/contracts';

const STATUS: Record<ParleyError['kind'], number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
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
