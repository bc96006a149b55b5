import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { requestLines } from './json-logs';

/** A real HTTP server whose every request goes through `requestLines`, its lines collected. */
async function serve(
  answer: (url: string) => number,
): Promise<{ url: string; server: Server; lines: string[] }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const middleware = requestLines(pino({ base: null }, sink), ['server-secret-0123456789']);
  const server = createServer((req, res) =>
    middleware(req, res, () => {
      res.statusCode = answer(req.url ?? '');
      res.end('{}');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, lines };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('request lines (JSON logs)', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('one line per answer: req, res.statusCode, responseTime, the runId of the path; secrets redacted', async () => {
    const s = await serve((url) => (url.startsWith('/boom') ? 503 : 200));
    server = s.server;
    const runId = '0b7f8a5e-1d2c-4b7a-9d7e-3e2f1a0b9c8d';
    await (await fetch(`${s.url}/api/runs/${runId}?token=server-secret-0123456789`)).text();
    await (await fetch(`${s.url}/boom`, { method: 'POST', body: '{}' })).text();
    await (await fetch(`${s.url}/metrics`)).text();
    await (await fetch(`${s.url}/health`)).text();
    await settle();
    const parsed = s.lines.map((line) => JSON.parse(line) as Record<string, any>);
    assert.equal(parsed.length, 2, `/metrics and /health are not logged: ${s.lines.join('\n')}`);
    const [first, second] = parsed;
    assert.equal(first.msg, 'request completed');
    assert.equal(first.req.method, 'GET');
    assert.equal(first.req.url, `/api/runs/${runId}?token=[redacted]`);
    assert.equal(first.req.remoteAddress, '127.0.0.1');
    assert.equal(first.res.statusCode, 200);
    assert.equal(typeof first.responseTime, 'number');
    assert.equal(first.runId, runId);
    assert.equal(second.msg, 'request errored');
    assert.equal(second.res.statusCode, 503);
    assert.equal(second.req.id, first.req.id + 1, 'request ids count up');
    assert.ok(!s.lines.join('').includes('server-secret-0123456789'));
  });
});
