import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { EventStore } from '@parley/event-store';
import type { ProjectionState } from './runs.projection';

/**
 * The read model kept across a clean restart (SQLite). Without it a start reads and decodes every
 * event of the log to rebuild the lists and the inbox (10,000 paused runs: 50,000 events, about
 * 0.7 s; 100,000 runs: a minute); with it, a start reads one file and the events written after it.
 *
 * Written on a clean shutdown, once the engine has stopped: the projection's state at the position
 * it had applied, deflated, with a header line that names that position, the event at it (run, seq,
 * hash), the projection's code (a fingerprint of its compiled modules), the SHA-256 of the body and
 * an Ed25519 signature of all that with the server's signing key (the key the anchors are signed
 * with). Read at start-up, it is used only when every one of those holds: same format, same
 * projection code, a valid signature by this server's key, the body's hash, and the log still holding
 * that very event at that position (a log restored from a backup, replaced, or short of its tail
 * fails this). Otherwise the start says why in one line and rebuilds the read model from the log, as
 * without a checkpoint; the file is replaced at the next clean shutdown. A crash leaves the last one,
 * which is still the state of a prefix of the log (the log is append-only): the start catches up
 * from it.
 *
 * What it does not see: an event edited by hand below its position. The lists then show the run as
 * it was before the edit; the run itself is always read from the log (the engine and the commands
 * never use the read model), and the chain check and the anchors are what find such edits.
 */

export const READ_MODEL_FILE = 'read-model.checkpoint';
const FORMAT = 'parley-read-model/1';

interface Header {
  format: string;
  fingerprint: string;
  position: number;
  last?: ProjectionState['last'];
  bodySha256: string;
  bodyBytes: number;
  keyId: string;
  signature: string;
}

/** The compiled modules whose code shapes the projection's state: a change to either invalidates a checkpoint. */
let fingerprintMemo: string | undefined;
function projectionFingerprint(): string {
  if (!fingerprintMemo) {
    const hash = createHash('sha256').update(FORMAT);
    for (const module of ['./runs.projection', './requests-query'])
      hash.update(readFileSync(require.resolve(module)));
    fingerprintMemo = hash.digest('hex');
  }
  return fingerprintMemo;
}

function signed(header: Omit<Header, 'signature'>): Buffer {
  const { format, fingerprint, position, last, bodySha256, bodyBytes, keyId } = header;
  return Buffer.from(
    JSON.stringify([format, fingerprint, position, last ?? null, bodySha256, bodyBytes, keyId]),
    'utf8',
  );
}

export class ReadModelCheckpoint {
  private readonly publicKey: KeyObject;

  constructor(
    readonly file: string,
    private readonly key: { privateKey: KeyObject; keyId: string },
  ) {
    this.publicKey = createPublicKey(key.privateKey);
  }

  /**
   * The state kept, if it may be used on `store` (see above); `why` says otherwise, or is undefined
   * when there is no checkpoint at all (a first start, or the last one crashed before any clean stop).
   */
  async load(store: EventStore): Promise<{ state?: ProjectionState; why?: string }> {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      return { why: `it cannot be read (${(error as Error).message})` };
    }
    const end = bytes.indexOf(0x0a);
    if (end < 0) return { why: 'it has no header line' };
    let header: Header;
    try {
      header = JSON.parse(bytes.subarray(0, end).toString('utf8')) as Header;
    } catch {
      return { why: 'its header is not JSON' };
    }
    if (header.format !== FORMAT) return { why: `it is of another format (${String(header.format)})` };
    if (header.fingerprint !== projectionFingerprint())
      return { why: 'it was written by another version of the read model' };
    if (header.keyId !== this.key.keyId) return { why: `it is signed by another key (${header.keyId})` };
    let signatureOk = false;
    try {
      signatureOk = verify(null, signed(header), this.publicKey, Buffer.from(header.signature, 'base64'));
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return { why: 'its signature does not verify' };
    const body = bytes.subarray(end + 1);
    if (
      body.length !== header.bodyBytes ||
      createHash('sha256').update(body).digest('hex') !== header.bodySha256
    )
      return { why: 'its body does not match the hash its header names' };
    if (header.position > 0) {
      const [at] = await store.readAll({ afterPosition: header.position - 1, limit: 1 });
      const last = header.last;
      if (
        !at ||
        at.position !== header.position ||
        !last ||
        at.event.runId !== last.runId ||
        at.event.seq !== last.seq ||
        at.event.hash !== last.hash
      )
        return {
          why: `the log no longer holds the event it was written after (position ${header.position})`,
        };
    }
    let state: ProjectionState;
    try {
      state = JSON.parse(inflateRawSync(body).toString('utf8')) as ProjectionState;
    } catch (error) {
      return { why: `its body cannot be read (${(error as Error).message})` };
    }
    if (state.position !== header.position) return { why: 'its body and its header disagree' };
    return { state };
  }

  /** Keep `state` (atomically: a new file, synced, renamed over the old one). */
  save(state: ProjectionState): { bytes: number } {
    const body = deflateRawSync(Buffer.from(JSON.stringify(state), 'utf8'), { level: 1 });
    const unsigned: Omit<Header, 'signature'> = {
      format: FORMAT,
      fingerprint: projectionFingerprint(),
      position: state.position,
      last: state.last,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      bodyBytes: body.length,
      keyId: this.key.keyId,
    };
    const header: Header = {
      ...unsigned,
      signature: sign(null, signed(unsigned), this.key.privateKey).toString('base64'),
    };
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'), body]));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dir = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return { bytes: body.length };
  }
}
