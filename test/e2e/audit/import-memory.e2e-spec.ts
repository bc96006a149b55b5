import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GENESIS_HASH, sealEvent, type EventEnvelope } from '@parley/contracts';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyProcess, TEST_USERS, newSigningKey, signExport } from '@parley/testing';
import { waitForRequest } from '../patterns/helpers';

/**
 * Import in constant memory (issue "The log defends itself", finding 6): the body is verified as it
 * streams and spooled to disk, then written from there; it is never held in memory. A 48 MB export
 * (one run of 6,000 events) raises the server's resident memory by far less than its size.
 */

const peer = newSigningKey();
/** The server's old-generation heap limit, and an export of runs over twice that. */
const HEAP_MB = 96;
const RUNS = 500;
const EVENTS_PER_RUN = 50;

describe('import in constant memory', () => {
  let server: ParleyProcess;
  let started: EventEnvelope;
  before(async () => {
    server = await ParleyProcess.start({
      env: {
        PARLEY_TRUSTED_KEYS: peer.publicKey,
        PARLEY_IMPORT_MAX_BYTES: String(1024 * 1024 * 1024),
        NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
      },
    });
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $150 for order #M1' });
    await waitForRequest(server.client(), body.runId, (r) => r.kind === 'approval');
    started = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events[0];
  });
  after(async () => server.dispose());

  it("an export over twice the server's heap limit imports (held in memory, it could not)", async () => {
    const lines: string[] = [];
    const runs: Array<{ runId: string; count: number; head: string }> = [];
    const text = 'x'.repeat(7990);
    const { hash: _h, prevHash: _p, ...first } = started;
    for (let r = 0; r < RUNS; r++) {
      const runId = `big-import-${r}`;
      let prevHash = GENESIS_HASH;
      const seal = (e: Omit<EventEnvelope, 'hash' | 'prevHash'>): void => {
        const sealed = sealEvent({ ...e, prevHash } as Omit<EventEnvelope, 'hash'>);
        prevHash = sealed.hash;
        lines.push(JSON.stringify(sealed));
      };
      seal({ ...first, eventId: `s-${r}`, runId, correlationId: runId });
      for (let seq = 2; seq <= EVENTS_PER_RUN; seq++)
        seal({
          eventId: `m-${r}-${seq}`,
          runId,
          seq,
          type: 'human-message.posted',
          schemaVersion: 2,
          at: started.at,
          actor: { kind: 'human', id: 'carol' },
          data: { by: { id: 'carol', role: 'participant' }, text: `${seq} ${text}` },
          correlationId: runId,
          causationId: null,
        } as Omit<EventEnvelope, 'hash' | 'prevHash'>);
      runs.push({ runId, count: EVENTS_PER_RUN, head: prevHash });
    }
    const manifest = {
      kind: 'parley.export',
      version: 1,
      exportedAt: new Date().toISOString(),
      runs,
      schemaVersions: {},
    };
    const body = signExport([JSON.stringify(manifest), ...lines].join('\n'), peer.file);
    lines.length = 0;
    const size = Buffer.byteLength(body);
    assert.ok(size > 2 * HEAP_MB * 1024 * 1024, `${size} bytes`);

    // sent from a file, streamed (as `curl --data-binary @file` would)
    const file = join(mkdtempSync(join(tmpdir(), 'parley-import-')), 'export.ndjson');
    writeFileSync(file, body);
    const imported = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const request = httpRequest(
        `${server.url}/api/import`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TEST_USERS.admin.token}`,
            'content-type': 'application/x-ndjson',
            'content-length': String(size),
          },
        },
        (response) => {
          let text = '';
          response.on('data', (c: Buffer) => (text += c.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      request.on('error', reject);
      createReadStream(file).pipe(request);
    });
    rmSync(file, { force: true });
    assert.equal(imported.status, 201, JSON.stringify(imported.body).slice(0, 500));
    assert.equal(imported.body.imported.length, RUNS);
    for (const r of [0, RUNS - 1])
      assert.equal(
        (await server.client().get(`/api/runs/big-import-${r}/verify`)).body.events,
        EVENTS_PER_RUN + 1,
      );
    assert.equal(server.child.exitCode, null, 'the server is still up');
  });
});
