import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowSchema } from '@parley/contracts';
import { retryBoundsOf, retryDelayMs } from './retry-policy';
import { isTransientNetworkError, isTransientStatus, retryAfterMsOf } from './transient';

const bounds = { attempts: 5, backoffMs: 500, maxBackoffMs: 3000 };

describe('retry delays: exponential backoff with full jitter', () => {
  it('draws the n-th delay uniformly in [0, min(maxBackoff, backoff * 2^(n-1))]', () => {
    // random → 0 gives the floor, random → just below 1 the ceiling of each attempt's window
    const top = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelayMs(bounds, n, () => 0)),
      [0, 0, 0, 0, 0],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelayMs(bounds, n, top)),
      [499, 999, 1999, 2999, 2999],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelayMs(bounds, n, () => 0.5)),
      [250, 500, 1000],
    );
  });

  it('never exceeds the ceiling, whatever the random source gives in [0, 1)', () => {
    let seed = 7;
    const lcg = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 1; n <= 10; n++) {
      const ceiling = Math.min(3000, 500 * 2 ** (n - 1));
      for (let i = 0; i < 200; i++) {
        const d = retryDelayMs(bounds, n, lcg);
        assert.ok(d >= 0 && d < ceiling, `attempt ${n}: ${d} outside [0, ${ceiling})`);
      }
    }
  });

  it("obeys the server's retry-after, capped by maxBackoff", () => {
    assert.equal(
      retryDelayMs(bounds, 1, () => 0, 1200),
      1200,
    );
    assert.equal(
      retryDelayMs(bounds, 1, () => 0, 60_000),
      3000,
    );
    assert.equal(
      retryDelayMs(bounds, 3, () => 0.9, 0),
      0,
    );
  });

  it('takes the schema defaults when a workflow has no retries: 3 attempts, 500ms, 30s', () => {
    const workflow = WorkflowSchema.parse({
      name: 'w',
      pattern: 'single-agent',
      agent: 'a',
      agents: [{ name: 'a', system: 'You are a.' }],
    });
    assert.deepEqual(retryBoundsOf(workflow), { attempts: 3, backoffMs: 500, maxBackoffMs: 30_000 });
    assert.deepEqual(retryBoundsOf({ retries: { attempts: 5, backoff: '20ms', maxBackoff: '1s' } }), {
      attempts: 5,
      backoffMs: 20,
      maxBackoffMs: 1000,
    });
  });
});

describe('transient errors', () => {
  it('recognises a refused, reset or timed-out connection anywhere in the cause chain', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    assert.equal(isTransientNetworkError(new TypeError('fetch failed', { cause: refused })), true);
    assert.equal(isTransientNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), true);
    assert.equal(isTransientNetworkError(new DOMException('timed out', 'TimeoutError')), true);
    assert.equal(isTransientNetworkError(new Error('amount must be positive')), false);
    assert.equal(isTransientNetworkError(Object.assign(new Error('no file'), { code: 'ENOENT' })), false);
    assert.equal(isTransientNetworkError('ECONNREFUSED'), false);
  });

  it('counts 429 and 5xx as transient, no other status', () => {
    assert.deepEqual(
      [400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504].filter(isTransientStatus),
      [429, 500, 502, 503, 504],
    );
  });

  it('reads retry-after as seconds, an HTTP date or retry-after-ms', () => {
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMsOf(headers({ 'retry-after': '2' }), now), 2000);
    assert.equal(retryAfterMsOf(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
    assert.equal(retryAfterMsOf(headers({ 'retry-after-ms': '150', 'retry-after': '9' }), now), 150);
    assert.equal(retryAfterMsOf(headers({ 'retry-after': 'soon' }), now), undefined);
    assert.equal(retryAfterMsOf(headers({}), now), undefined);
  });
});
