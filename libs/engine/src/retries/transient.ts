/**
 * Transient errors: worth trying again after a pause. A refused or reset connection, a timeout,
 * HTTP 429 and 5xx are; any other 4xx, a schema or validation error, a bug, are not (trying again
 * gives the same answer). The model gateway classifies what its SDK throws; a tool may say so
 * itself (`ToolError` with `transient`), and errors from Node's network stack are recognised here.
 */
export interface TransientInfo {
  transient: boolean;
  /** The server said when to come back (`retry-after`), in milliseconds. */
  retryAfterMs?: number;
}

/** Error codes of Node's network stack (and undici's) that mean "the other side was not there". */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** A network-level failure anywhere in the error's `cause` chain (`fetch failed` → ECONNREFUSED). */
export function isTransientNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { code, name } = current as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (name === 'TimeoutError') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** HTTP statuses worth another attempt: too many requests, and the server's own failures. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * A `retry-after` header in milliseconds: seconds (`"2"`) or an HTTP date, or the non-standard
 * `retry-after-ms`. Undefined when absent or unreadable.
 */
export function retryAfterMsOf(
  header: (name: string) => string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const ms = header('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const value = header('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
