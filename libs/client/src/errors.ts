/** An error answer of the server, `{error: {code, message, field?}}`, with its HTTP status. */
export class ParleyApiError extends Error {
  constructor(
    /** The HTTP status (0 for a refusal over socket.io). */
    readonly status: number,
    readonly code: string,
    /** The server's own message, as it wrote it. */
    readonly serverMessage: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(`${status} ${code}: ${serverMessage}${field ? ` (field ${field})` : ''}`);
    this.name = 'ParleyApiError';
  }
}

/** An answer that does not match the contract this client was built on (a version mismatch). */
export class ParleyContractError extends Error {
  constructor(route: string, issue: string) {
    super(`${route}: the server's answer does not match the contract: ${issue}`);
    this.name = 'ParleyContractError';
  }
}

/** The server could not be reached at all (refused, reset, DNS, TLS): nothing was answered. */
export class ParleyConnectionError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the server at ${baseUrl} (${reason})`);
    this.name = 'ParleyConnectionError';
  }
}

/** Why a network failure happened, as short as fetch and socket.io say it (`ECONNREFUSED`). */
export function connectionReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
