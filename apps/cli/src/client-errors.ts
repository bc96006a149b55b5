import { ParleyApiError, ParleyConnectionError, ParleyContractError } from '@parley/client';
import { CliError, EXIT } from './errors';

/**
 * What the client threw, as the CLI's documented exit codes: a refusal (4xx) 2, not found 5, an
 * unreachable or failing server (5xx, an answer off the contract) 3. Anything else is returned as is.
 */
export function fromClientError(error: unknown): unknown {
  if (error instanceof ParleyConnectionError)
    return new CliError(EXIT.unreachable, `${error.message}; set --server or PARLEY_URL`);
  if (error instanceof ParleyContractError)
    return new CliError(EXIT.unreachable, `${error.message} (is the server another version?)`);
  if (!(error instanceof ParleyApiError)) return error;
  const status = error.status ? `, HTTP ${error.status}` : '';
  const unauthenticated = error.status === 401 || (!error.status && error.code.startsWith('AUTH.'));
  const hint = unauthenticated ? ' (set --token or PARLEY_TOKEN)' : '';
  const line = `${error.serverMessage} (${error.code}${status})${hint}`;
  if (error.status === 404 || (!error.status && error.code.endsWith('NOT_FOUND')))
    return new CliError(EXIT.notFound, line);
  if (error.status >= 500) return new CliError(EXIT.unreachable, `the server failed: ${line}`);
  return new CliError(EXIT.refused, line);
}
