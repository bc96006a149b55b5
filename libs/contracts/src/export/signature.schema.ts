import { z } from 'zod';

/**
 * Signed history: a server's Ed25519 key signs a run's head (seq and hash) when the run waits for a
 * human, ends or is imported, and every export's manifest. A public key is written
 * `ed25519:<base64url of the 32 raw bytes>`; its id is the first 16 hex digits of their SHA-256.
 */
export const PUBLIC_KEY_PREFIX = 'ed25519:';

export const SignedHeadSchema = z.object({
  kind: z.literal('parley.head'),
  runId: z.string().min(1),
  seq: z.number().int().positive(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Why it was signed: the run waits for a human, ended, was imported here, or was exported. */
  reason: z.enum(['waiting', 'ended', 'imported', 'export']),
  at: z.string(),
  keyId: z.string().min(1),
  /** base64url Ed25519 signature of the canonical JSON of every other member. */
  signature: z.string().min(1),
});
export type SignedHead = z.infer<typeof SignedHeadSchema>;

/** A manifest's signature: over the canonical JSON of the manifest without its `signature`. */
export const ManifestSignatureSchema = z.object({
  keyId: z.string().min(1),
  publicKey: z.string().startsWith(PUBLIC_KEY_PREFIX),
  value: z.string().min(1),
});
export type ManifestSignature = z.infer<typeof ManifestSignatureSchema>;
