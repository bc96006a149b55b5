import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  GENESIS_HASH,
  publicKeyText,
  sealEvent,
  signManifest,
  verifyExportText,
  type EventEnvelope,
} from '@parley/contracts';
import { ParleyProcess } from '@parley/testing';
import { waitForRequest, waitForStatus } from '../patterns/helpers';
import { cli } from '../cli/cli-process';

/**
 * Signed history (issue "The log defends itself", finding 1), from the attacker's side: a refund's
 * amount changed from 150 to 15,000 and its approver to another user, every hash recomputed with
 * Parley's own library, verifies as a chain, but not against the server's key: `parley verify --key`
 * and `POST /api/import` call it forged and name the seq; an unsigned or foreign-signed export is
 * refused; a genuine one imports where its key is trusted, keeping its signature.
 */

/** Every event re-sealed after `edit` of its JSON, and the manifest's count and head made to match. */
function recompute(text: string, edit: (json: string) => string): { manifest: any; lines: string[] } {
  const [first, ...rest] = text.trim().split('\n');
  let prevHash = GENESIS_HASH;
  const lines = rest.map((line) => {
    const { hash: _hash, ...fields } = JSON.parse(edit(line)) as EventEnvelope;
    const sealed = sealEvent({ ...fields, prevHash });
    prevHash = sealed.hash;
    return JSON.stringify(sealed);
  });
  const manifest = JSON.parse(first);
  manifest.runs[0].head = prevHash;
  manifest.runs[0].count = lines.length;
  return { manifest, lines };
}

const join2 = (manifest: unknown, lines: string[]): string => [JSON.stringify(manifest), ...lines].join('\n');

describe('signed history', () => {
  let origin: ParleyProcess;
  let trusting: ParleyProcess;
  let stranger: ParleyProcess;
  let runId: string;
  let genuine: string;
  let publicKey: string;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-signed-'));
    origin = await ParleyProcess.start();
    publicKey = (await origin.client(null).get('/.well-known/parley-signing-key')).body.publicKey;
    [trusting, stranger] = await Promise.all([
      ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: publicKey } }),
      ParleyProcess.start(),
    ]);
    const { body } = await origin
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $150 for order #S1' });
    runId = body.runId;
    const { request } = await waitForRequest(origin.client(), runId, (r) => r.kind === 'approval');
    await origin.client('alice').post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    await waitForStatus(origin.client(), runId, 'completed');
    genuine = (await origin.client().get(`/api/runs/${runId}/export`)).body as string;
  });
  after(async () => {
    await Promise.all([origin.dispose(), trusting.dispose(), stranger.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const importText = (api: ParleyProcess, text: string) =>
    api.client().post('/api/import', text, { 'content-type': 'application/x-ndjson' });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  /** The refund forged: 150 → 15000, and bob (not alice) approving. */
  const forge = (json: string): string =>
    json.replace(/"amount":150\b/g, '"amount":15000').replace(/"alice"/g, '"bob"');

  it('the key is created on first start, 0600, served at a well-known route and printed by `parley key`', async () => {
    const keyFile = join(origin.dataDir, 'signing-key.pem');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /BEGIN PRIVATE KEY/);
    assert.match(publicKey, /^ed25519:[A-Za-z0-9_-]{43}$/);
    const printed = await cli(origin.url, ['key']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout.trim(), publicKey);
  });

  it('the run head is signed when the run waits and when it ends; the export carries them and a signed manifest', async () => {
    const manifest = JSON.parse(genuine.split('\n')[0]);
    const signed = manifest.runs[0].signed as Array<{ reason: string; seq: number }>;
    assert.deepEqual(
      signed.map((h) => h.reason),
      ['waiting', 'ended', 'export'],
    );
    assert.equal(manifest.signature.publicKey, publicKey);
    assert.equal(verifyExportText(genuine, { trustedKeys: [publicKey] }).ok, true);
    const ok = await cli(origin.url, ['verify', file('genuine.ndjson', genuine), '--key', publicKey]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok: signed by key/);
    const head = `${manifest.runs[0].count}:${manifest.runs[0].head}`;
    const expected = await cli(origin.url, [
      'verify',
      join(dir, 'genuine.ndjson'),
      '--key',
      publicKey,
      '--expect-head',
      head,
    ]);
    assert.equal(expected.code, 0, expected.stdout);
    const waiting = signed[0];
    const other = await cli(origin.url, [
      'verify',
      join(dir, 'genuine.ndjson'),
      '--expect-head',
      `${waiting.seq}:${'a'.repeat(64)}`,
    ]);
    assert.equal(other.code, 4, other.stdout);
    assert.match(other.stdout, new RegExp(`broken: at seq ${waiting.seq} the file's hash is`));
  });

  it('a forged refund with every hash recomputed is refused by `verify --key` and by import, naming the seq', async () => {
    const { manifest, lines } = recompute(genuine, forge);
    const forged = join2(manifest, lines);
    assert.ok(
      forged.includes('"amount":15000') && forged.includes('"bob"'),
      'the forgery changed the refund',
    );
    const waitingSeq = manifest.runs[0].signed[0].seq;
    const checked = await cli(origin.url, ['verify', file('forged.ndjson', forged), '--key', publicKey]);
    assert.equal(checked.code, 4, checked.stdout);
    assert.match(checked.stdout, /forged: the manifest's signature .* does not verify/);
    // the original manifest kept as it was: the chain no longer reaches the heads it signed
    const kept = join2(JSON.parse(genuine.split('\n')[0]), lines);
    const located = await cli(origin.url, ['verify', file('kept.ndjson', kept), '--key', publicKey]);
    assert.equal(located.code, 4, located.stdout);
    assert.match(
      located.stdout,
      new RegExp(
        `forged: run ${runId} is forged: its chain does not reach the head signed at seq ${waitingSeq} .*first seq that differs is in 1\\.\\.${waitingSeq}`,
      ),
    );
    for (const text of [forged, kept]) {
      const refused = await importText(trusting, text);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'IMPORT.FORGED');
    }
    const named = await importText(trusting, kept);
    assert.equal(named.body.error.details.seq, waitingSeq);
    assert.match(named.body.error.message, new RegExp(`head signed at seq ${waitingSeq}`));
    assert.equal((await trusting.client().get(`/api/runs/${runId}`)).status, 404, 'nothing imported');
  });

  it('an unsigned export, or one re-signed by a foreign key, is refused; so is a genuine one where its key is not trusted', async () => {
    const { manifest, lines } = recompute(genuine, forge);
    delete manifest.signature;
    for (const run of manifest.runs) delete run.signed;
    const unsigned = await importText(trusting, join2(manifest, lines));
    assert.equal(unsigned.body.error.code, 'IMPORT.UNSIGNED', JSON.stringify(unsigned.body));
    const { privateKey } = generateKeyPairSync('ed25519');
    const resigned = join2(signManifest(manifest, privateKey), lines);
    const foreign = await importText(trusting, resigned);
    assert.equal(foreign.body.error.code, 'IMPORT.UNTRUSTED_KEY', JSON.stringify(foreign.body));
    assert.match(foreign.body.error.message, new RegExp(publicKeyText(privateKey)));
    const cliForeign = await cli(origin.url, [
      'verify',
      file('resigned.ndjson', resigned),
      '--key',
      publicKey,
    ]);
    assert.equal(cliForeign.code, 4);
    assert.match(cliForeign.stdout, /forged: the manifest is signed by key .* which is not a trusted key/);
    const notTrusted = await importText(stranger, genuine);
    assert.equal(notTrusted.body.error.code, 'IMPORT.UNTRUSTED_KEY');
    assert.equal((await stranger.client().get(`/api/runs/${runId}`)).status, 404);
  });

  it('a genuine export imports where its key is trusted: who imported it and the original signature are kept', async () => {
    const imported = await trusting
      .client()
      .post('/api/import?note=audit', genuine, { 'content-type': 'application/x-ndjson' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    const events = (await trusting.client().get(`/api/runs/${runId}/events`)).body.events as EventEnvelope[];
    const last = events[events.length - 1] as EventEnvelope & { data: any };
    assert.equal(last.type, 'run.imported');
    assert.equal(last.data.by.id, 'root');
    assert.equal(last.data.from.signedBy, publicKey);
    const exportHead = JSON.parse(genuine.split('\n')[0]).runs[0].signed.at(-1);
    assert.deepEqual(last.data.from.signedHead, exportHead);
    // re-exported from there, it is signed by that server, which anchored the import
    const again = (await trusting.client().get(`/api/runs/${runId}/export`)).body as string;
    const trustingKey = (await trusting.client(null).get('/.well-known/parley-signing-key')).body.publicKey;
    assert.equal(verifyExportText(again, { trustedKeys: [trustingKey] }).ok, true);
    assert.equal(verifyExportText(again, { trustedKeys: [publicKey] }).ok, false);
  });
});
