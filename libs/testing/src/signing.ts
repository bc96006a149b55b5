import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, publicKeyText, sealEvent, signManifest, type EventEnvelope } from '@parley/contracts';

/** A fresh Ed25519 key in a file of its own (mode 0600), as PARLEY_SIGNING_KEY_FILE takes it. */
export function newSigningKey(): { file: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const file = join(mkdtempSync(join(tmpdir(), 'parley-key-')), 'signing-key.pem');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return { file, publicKey: publicKeyText(privateKey) };
}

/**
 * The NDJSON export `text` with its manifest (line 1) signed by the key in `keyFile`: what a server
 * holding that key would have exported. For tests that craft exports a trusted peer could have made.
 */
export function signExport(text: string, keyFile: string): string {
  const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
  const [first, ...rest] = text.split('\n');
  const { signature: _old, ...manifest } = JSON.parse(first) as Record<string, unknown>;
  return [JSON.stringify(signManifest(manifest, key)), ...rest].join('\n');
}

/**
 * A run's events re-sealed under another run id (each edited by `edit` first) as a one-run export
 * signed by `keyFile`: what a trusted peer's export of such a run would be, or what an attacker with
 * Parley's library could craft. For tests of import.
 */
export function resealedExport(
  events: EventEnvelope[],
  runId: string,
  keyFile: string,
  edit: (e: EventEnvelope) => EventEnvelope = (e) => e,
): string {
  let prevHash = GENESIS_HASH;
  const sealed = events.map((original) => {
    const { hash: _hash, ...rest } = edit({ ...original, runId, correlationId: runId });
    const e = sealEvent({ ...rest, prevHash } as Omit<EventEnvelope, 'hash'>);
    prevHash = e.hash;
    return e;
  });
  const manifest = {
    kind: 'parley.export',
    version: 1,
    exportedAt: new Date().toISOString(),
    runs: [{ runId, count: sealed.length, head: prevHash }],
    schemaVersions: {},
  };
  return signExport([JSON.stringify(manifest), ...sealed.map((e) => JSON.stringify(e))].join('\n'), keyFile);
}
