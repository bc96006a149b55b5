// Where the Kafka broker's files live, which version it is, and the shared progress logger.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Repository root (two levels above scripts/kafka). */
export const REPO_ROOT = path.resolve(HERE, '..', '..');
/** Git-ignored cache folder: `<repo>/.cache/kafka`. */
export const KAFKA_CACHE_DIR = path.join(REPO_ROOT, '.cache', 'kafka');
/** Kafka version used unless `PARLEY_KAFKA_VERSION` says otherwise (see docs/KAFKA.md). */
export const KAFKA_VERSION = process.env.PARLEY_KAFKA_VERSION || '4.4.0';
/** A fixed, valid KRaft cluster id (22 chars of URL-safe base64 of 16 bytes). */
export const DEFAULT_CLUSTER_ID = 'UGFybGV5VGVzdENsdXN0ZQ';

/** Default logger: progress to stderr, never stdout. */
export function defaultLog(msg) {
  process.stderr.write(`[kafka] ${msg}\n`);
}

/** The major version number of a Kafka version string. */
export function majorOf(version) {
  return Number.parseInt(String(version).split('.')[0], 10);
}
