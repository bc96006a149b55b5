import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { ModelCallError } from '@parley/engine';
import { modelCallErrorOf } from './model-errors';

/** The SDK's own error classes, as `client.chat.completions.create` throws them. */
const status = (code: number, headers: Record<string, string> = {}) =>
  OpenAI.APIError.generate(code, { message: `HTTP ${code}` }, undefined, new Headers(headers));

const classify = (error: unknown) => {
  const e = modelCallErrorOf('writer', error);
  return { code: e.code, transient: e.transient, retryAfterMs: e.retryAfterMs };
};

describe('model errors: what is worth asking again', () => {
  it('a refused or reset connection and a timeout are transient', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.deepEqual(
      classify(new OpenAI.APIConnectionError({ message: 'Connection error.', cause: refused })),
      {
        code: 'MODEL_UNAVAILABLE',
        transient: true,
        retryAfterMs: undefined,
      },
    );
    assert.equal(classify(new OpenAI.APIConnectionTimeoutError()).transient, true);
    // a stream that breaks off mid-answer (undici's "terminated" with a reset socket)
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    assert.equal(classify(new TypeError('terminated', { cause: reset })).transient, true);
  });

  it('429 and 5xx are transient, with the retry-after the server gave', () => {
    assert.deepEqual(classify(status(429, { 'retry-after': '3' })), {
      code: 'MODEL_UNAVAILABLE',
      transient: true,
      retryAfterMs: 3000,
    });
    assert.deepEqual(
      [500, 502, 503, 504].map((s) => classify(status(s)).transient),
      [true, true, true, true],
    );
  });

  it('another 4xx is refused for good, and so is an unknown error', () => {
    assert.deepEqual(
      [400, 401, 403, 404, 422].map((s) => classify(status(s))),
      [400, 401, 403, 404, 422].map(() => ({
        code: 'MODEL_REFUSED',
        transient: false,
        retryAfterMs: undefined,
      })),
    );
    assert.equal(classify(new Error('Cannot read properties of undefined')).transient, false);
  });

  it('keeps a ModelCallError as it is (an invalid structured output is not retried here)', () => {
    const invalid = new ModelCallError('MODEL_OUTPUT_INVALID', 'no valid verdict', 3);
    assert.equal(modelCallErrorOf('checker', invalid), invalid);
  });
});
