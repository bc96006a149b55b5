import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import type { RunTracing } from './run-tracing';

/**
 * W3C trace context in and out of the REST API: a request's `traceparent` (and `tracestate`) is
 * the parent of its server span, the span is active while the request is handled (a run started
 * by it records it as its parent, log lines carry its traceId), and the answer's `traceparent`
 * names it.
 */
export function httpTracing(tracing: RunTracing) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracing.tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const carrier: Record<string, string> = {};
    propagation.inject(active, carrier);
    for (const [name, value] of Object.entries(carrier)) res.setHeader(name, value);
    res.once('finish', () => {
      const route = req.route as { path?: unknown } | undefined;
      const pattern = typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : undefined;
      if (pattern) {
        span.updateName(`${req.method} ${pattern}`);
        span.setAttribute('http.route', pattern);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(active, next);
  };
}
