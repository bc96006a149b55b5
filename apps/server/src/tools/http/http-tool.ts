import { durationMs } from '@parley/contracts';
import { ToolError, type ToolDefinition } from '@parley/engine';
import { argsFromJsonSchema, parametersOf } from '../json-schema-args';
import type { HttpToolSpec } from '../tools-file/tools-file.schema';
import { traceparentOfToolCall } from '../../observability/tracing/tool-trace-context';
import { readCapped } from './read-capped';

/**
 * A tool that is one HTTP call. The URL is a template over the arguments (`{order_id}`, URL-encoded);
 * the other arguments are the query string (GET, DELETE) or the JSON body. Every call carries its
 * Parley idempotency key as `Idempotency-Key` (and, tracing on, its span as `traceparent`). A 2xx answer (JSON, else text, size-capped) is the
 * result; any other status is a recorded tool error: transient (retried with the same key) for 429
 * and 5xx only when the tool is idempotent, since a service that failed half-way may have acted.
 */
export function httpTool(spec: HttpToolSpec, headers: Record<string, string>): ToolDefinition {
  const timeoutMs = durationMs(spec.timeout);
  const inUrl = new Set([...spec.url.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
  return {
    name: spec.name,
    description: spec.description,
    args: argsFromJsonSchema(spec.input),
    parameters: parametersOf(spec.input),
    idempotent: spec.idempotent,
    async execute(args, ctx) {
      const values = (args ?? {}) as Record<string, unknown>;
      let url = spec.url.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, key: string) => {
        if (values[key] === undefined || values[key] === null)
          throw new ToolError('TOOL.INVALID_ARGS', `${spec.name}: ${key}: required by the URL`);
        return encodeURIComponent(String(values[key]));
      });
      const rest = Object.fromEntries(Object.entries(values).filter(([k]) => !inUrl.has(k)));
      const bodyless = spec.method === 'GET' || spec.method === 'DELETE';
      if (bodyless && Object.keys(rest).length > 0) {
        const query = new URLSearchParams(
          Object.entries(rest).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        );
        url += (url.includes('?') ? '&' : '?') + query.toString();
      }
      const traceparent = traceparentOfToolCall(ctx);
      let response: Response;
      try {
        response = await fetch(url, {
          method: spec.method,
          headers: {
            ...(bodyless ? {} : { 'content-type': 'application/json' }),
            accept: 'application/json, text/plain;q=0.9, */*;q=0.5',
            ...headers,
            'idempotency-key': ctx.idempotencyKey,
            ...(traceparent ? { traceparent } : {}),
          },
          body: bodyless ? undefined : JSON.stringify(rest),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
      } catch (error) {
        const timedOut = (error as Error).name === 'TimeoutError';
        // A refused connection never reached the service: trying again is safe for any tool. A
        // timeout may have: only an idempotent tool is tried again.
        const refused = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(String((error as { cause?: unknown }).cause));
        throw new ToolError(
          timedOut ? 'TOOL.TIMEOUT' : 'TOOL.UNREACHABLE',
          `${spec.name}: ${spec.method} ${new URL(url).origin}${new URL(url).pathname} ${timedOut ? `timed out after ${timeoutMs} ms` : `failed: ${(error as Error).message}`}`,
          { transient: refused || spec.idempotent },
        );
      }
      const text = await readCapped(response, spec.maxResponseBytes, spec.name);
      const body = parseBody(text, response.headers.get('content-type'));
      if (!response.ok) {
        const retryAfter = Number(response.headers.get('retry-after'));
        throw new ToolError(
          `TOOL.HTTP_${response.status}`,
          `${spec.name}: HTTP ${response.status}${text ? `: ${text.slice(0, 500)}` : ''}`,
          {
            transient: spec.idempotent && (response.status === 429 || response.status >= 500),
            retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
          },
        );
      }
      return { result: body };
    },
  };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return null;
  if (contentType && /json/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
