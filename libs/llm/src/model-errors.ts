import type OpenAI from 'openai';
import type { ChatCompletionStream } from 'openai/resources/chat/completions';
import { ModelCallError, isTransientNetworkError, isTransientStatus, retryAfterMsOf } from '@parley/engine';

interface OpenAiSdk {
  OpenAI: typeof OpenAI;
  ChatCompletionStream: typeof ChatCompletionStream;
}
let sdk: OpenAiSdk | undefined;

/**
 * The openai SDK, loaded on first use (its first model call), not with the server: it is 155 modules
 * that nothing needs before a run asks a model, and the server answers /health sooner without them.
 */
export function openAiSdk(): OpenAiSdk {
  if (!sdk) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { OpenAI: Client } = require('openai') as { OpenAI: typeof OpenAI };
    const { ChatCompletionStream: Stream } = require('openai/resources/chat/completions') as {
      ChatCompletionStream: typeof ChatCompletionStream;
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
    sdk = { OpenAI: Client, ChatCompletionStream: Stream };
  }
  return sdk;
}

/**
 * What the openai SDK threw, as a coded ModelCallError that says whether trying again may help.
 * Transient: a connection refused or reset (`APIConnectionError`), a timeout
 * (`APIConnectionTimeoutError`), HTTP 429 and 5xx (with the server's `retry-after`), and a stream
 * that broke off at the network level. Not transient: any other HTTP status (400, 401, 403, 404,
 * 422 ...: `MODEL_REFUSED`), and anything else (a bug is not cured by asking again).
 * The engine does the retrying (`retries:` of the workflow, each attempt a fact in the log); the
 * SDK's own hidden retries are off (`maxRetries: 0`).
 */
export function modelCallErrorOf(agent: string, error: unknown, what = ''): ModelCallError {
  const message = `${agent}: ${what}${error instanceof Error ? error.message : String(error)}`;
  if (error instanceof ModelCallError) return error;
  const { OpenAI } = openAiSdk();
  if (error instanceof OpenAI.APIConnectionError)
    return new ModelCallError('MODEL_UNAVAILABLE', message, 1, { transient: true });
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    if (isTransientStatus(error.status)) {
      const headers = error.headers;
      return new ModelCallError('MODEL_UNAVAILABLE', message, 1, {
        transient: true,
        retryAfterMs: headers ? retryAfterMsOf((name) => headers.get(name)) : undefined,
      });
    }
    return new ModelCallError('MODEL_REFUSED', message, 1);
  }
  if (isTransientNetworkError(error))
    return new ModelCallError('MODEL_UNAVAILABLE', message, 1, { transient: true });
  return new ModelCallError('MODEL_UNAVAILABLE', message, 1);
}
