import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json';
import {
  ManifestSignatureSchema,
  PUBLIC_KEY_PREFIX,
  type ManifestSignature,
  type SignedHead,
} from './signature.schema';

export * from './signature.schema';

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** `ed25519:<base64url>` of a public (or private: its public half) Ed25519 key. */
export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  return `${PUBLIC_KEY_PREFIX}${der.subarray(SPKI_PREFIX.length).toString('base64url')}`;
}

/** The key of `ed25519:<base64url>`, or an Error saying what is wrong with the text. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PUBLIC_KEY_PREFIX))
    throw new Error(`a public key is written ${PUBLIC_KEY_PREFIX}<base64url>, not "${trimmed.slice(0, 40)}"`);
  const raw = Buffer.from(trimmed.slice(PUBLIC_KEY_PREFIX.length), 'base64url');
  if (raw.length !== 32) throw new Error(`an Ed25519 public key has 32 bytes, not ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function keyIdOf(publicKey: string): string {
  return createHash('sha256').update(publicKey.trim()).digest('hex').slice(0, 16);
}

function signText(text: string, privateKey: KeyObject): string {
  return sign(null, Buffer.from(text), privateKey).toString('base64url');
}

function verifyText(text: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(text), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** The key id of each signing key seen: deriving it exports the public key and hashes it. */
const keyIds = new WeakMap<KeyObject, string>();

function keyIdOfKey(privateKey: KeyObject): string {
  let id = keyIds.get(privateKey);
  if (id === undefined) keyIds.set(privateKey, (id = keyIdOf(publicKeyText(privateKey))));
  return id;
}

export function signHead(
  head: Omit<SignedHead, 'kind' | 'keyId' | 'signature'>,
  privateKey: KeyObject,
): SignedHead {
  const unsigned = { kind: 'parley.head' as const, ...head, keyId: keyIdOfKey(privateKey) };
  return { ...unsigned, signature: signText(canonicalJson(unsigned), privateKey) };
}

export function verifySignedHead(head: SignedHead, publicKey: KeyObject): boolean {
  const { signature, ...unsigned } = head;
  return verifyText(canonicalJson(unsigned), signature, publicKey);
}

/** Sign a manifest (any JSON object without `signature`): the manifest with its `signature`. */
export function signManifest<T extends Record<string, unknown>>(
  manifest: T,
  privateKey: KeyObject,
): T & { signature: ManifestSignature } {
  const publicKey = publicKeyText(privateKey);
  const value = signText(canonicalJson(manifest), privateKey);
  return { ...manifest, signature: { keyId: keyIdOf(publicKey), publicKey, value } };
}

/** Whether `manifest.signature` signs the rest of it, with the key it names. */
export function manifestSignatureValid(manifest: Record<string, unknown>): boolean {
  const parsed = ManifestSignatureSchema.safeParse(manifest.signature);
  if (!parsed.success) return false;
  const { signature: _signature, ...rest } = manifest;
  let key: KeyObject;
  try {
    key = parsePublicKey(parsed.data.publicKey);
  } catch {
    return false;
  }
  return (
    keyIdOf(parsed.data.publicKey) === parsed.data.keyId &&
    verifyText(canonicalJson(rest), parsed.data.value, key)
  );
}
