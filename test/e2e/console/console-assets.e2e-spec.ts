import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ParleyProcess } from '@parley/testing';
import { prepareConsole } from './console-harness';

/** One GET with raw bytes back (no fetch: it would decode the body and hide the encoding). */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * How the server sends the console's files (apps/server/src/console/): index.html revalidated, every
 * hashed script and stylesheet cached for a year and sent compressed (the build's brotli or gzip
 * copy, by Accept-Encoding), the same bytes once decoded; the app's chunk preloaded from index.html.
 */
describe('the console assets: caching, compression and preload', () => {
  let server: ParleyProcess;
  before(async () => {
    prepareConsole();
    server = await ParleyProcess.start();
  });
  after(async () => {
    await server?.dispose();
  });

  it('index.html names the entry, its stylesheet and the preloaded app chunk; it is revalidated each load', async () => {
    const index = await get(`${server.url}/console/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const html = index.body.toString();
    assert.match(
      html,
      /<script type="module" crossorigin src="\/console\/assets\/index-[\w-]+\.js"><\/script>/,
    );
    assert.match(html, /<link rel="stylesheet" crossorigin href="\/console\/assets\/index-[\w-]+\.css">/);
    assert.match(
      html,
      /<link rel="modulepreload" crossorigin="" href="\/console\/assets\/start-[\w-]+\.js">/,
    );
  });

  it('a hashed script: brotli when accepted, else gzip, else as is; the same bytes decoded; immutable for a year', async () => {
    const html = (await get(`${server.url}/console/`)).body.toString();
    const app = html.match(/href="(\/console\/assets\/start-[\w-]+\.js)"/)?.[1];
    assert.ok(app);
    const plain = await get(`${server.url}${app}`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(String(plain.headers['content-type']), /javascript/);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    assert.ok(plain.body.length > 100_000, `the app chunk is ${plain.body.length} bytes`);

    const br = await get(`${server.url}${app}`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.match(String(br.headers['content-type']), /javascript/);
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.ok(
      br.body.length < plain.body.length / 3,
      `brotli: ${br.body.length} of ${plain.body.length} bytes`,
    );
    assert.ok(brotliDecompressSync(br.body).equals(plain.body));

    const gz = await get(`${server.url}${app}`, { 'accept-encoding': 'gzip, br;q=0' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.body).equals(plain.body));

    const none = await get(`${server.url}${app}`, { 'accept-encoding': 'identity' });
    assert.equal(none.headers['content-encoding'], undefined);
    assert.ok(none.body.equals(plain.body));

    const css = html.match(/href="(\/console\/assets\/index-[\w-]+\.css)"/)?.[1];
    const style = await get(`${server.url}${css}`, { 'accept-encoding': 'br' });
    assert.equal(style.headers['content-encoding'], 'br');
    assert.match(String(style.headers['content-type']), /text\/css/);
  });
});
