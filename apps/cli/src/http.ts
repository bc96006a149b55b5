import { ErrorBody } from '@parley/contracts';
import { CliError, EXIT, usageError } from './errors';

/** A tiny REST client: the token, the error mapping to exit codes, nothing else. */
export class Http {
  readonly baseUrl: string;

  constructor(
    server: string,
    readonly token: string | undefined,
  ) {
    try {
      const url = new URL(server);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw usageError(`--server: not an http(s) URL: "${server}"`);
    }
    this.baseUrl = server.replace(/\/+$/, '');
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** Send; a non-2xx answer becomes a CliError with the right exit code. */
  async send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: this.headers({
          accept,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    if (!response.ok) throw await httpError(response);
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as T };
    } catch {
      throw new CliError(
        EXIT.unreachable,
        `the server answered ${method} ${path} with something that is not JSON`,
      );
    }
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path).then((a) => a.body);
  }

  post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
    return this.json<T>('POST', path, body);
  }
}

export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(
    EXIT.unreachable,
    `cannot reach the server at ${url} (${why}); set --server or PARLEY_URL`,
  );
}

async function httpError(response: Response): Promise<CliError> {
  const text = await response.text().catch(() => '');
  let message = `${response.status} ${response.statusText}`.trim();
  let code = `HTTP.${response.status}`;
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) ({ message, code } = parsed.data.error);
  } catch {
    // not JSON: keep the status line
  }
  const hint = response.status === 401 ? ' (set --token or PARLEY_TOKEN)' : '';
  const line = `${message} (${code}, HTTP ${response.status})${hint}`;
  if (response.status === 404) return new CliError(EXIT.notFound, line);
  if (response.status >= 500) return new CliError(EXIT.unreachable, `the server failed: ${line}`);
  return new CliError(EXIT.refused, line);
}
