/** An error answer of the server, `{error: {code, message, field?}}`, with its HTTP status. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(`${status} ${code}: ${message}${field ? ` (field ${field})` : ''}`);
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
