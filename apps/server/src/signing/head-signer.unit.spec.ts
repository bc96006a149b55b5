import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyIdOf, publicKeyText, signHead, type SignedHead, type StoredEvent } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { insertHead, type AnchorLine, type AnchorStream } from './anchor-log';
import { HeadSigner } from './head-signer';
import type { SigningKey } from './signing-key';

function key(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const text = publicKeyText(publicKey);
  return { privateKey, publicKey: text, keyId: keyIdOf(text), file: ':memory:', created: true };
}

/** An anchor stream in memory; `remote` stands for another instance's append, `fail` for a refusal. */
class MemoryStream implements AnchorStream {
  readonly kind = 'kafka' as const;
  readonly location = 'memory';
  readonly byRun = new Map<string, SignedHead[]>();
  written: SignedHead[] = [];
  fail = 0;
  async append(lines: AnchorLine[]): Promise<void> {
    if (!lines.length) return;
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail > 0) {
      this.fail--;
      throw Object.assign(new Error('refused'), { code: 'EIO' });
    }
    for (const { head } of lines) this.remote(head);
    this.written.push(...lines.map((l) => l.head));
  }
  remote(head: SignedHead): void {
    if (!this.byRun.has(head.runId)) this.byRun.set(head.runId, []);
    insertHead(this.byRun.get(head.runId)!, head);
  }
  async sync(): Promise<void> {}
  watermark(): number {
    return 0;
  }
  heads(runId: string): SignedHead[] {
    return this.byRun.get(runId) ?? [];
  }
  latest(runId: string): SignedHead | undefined {
    return this.heads(runId).at(-1);
  }
  runs(): string[] {
    return [...this.byRun.keys()];
  }
  async close(): Promise<void> {}
}

/** The log as the signer sees it: a subscription fed by `emit`. */
function fakeStore(kind: 'sqlite' | 'kafka') {
  let listener: ((e: StoredEvent) => void) | undefined;
  let position = 0;
  const store = {
    kind,
    subscribe: (_from: number, l: (e: StoredEvent) => void) => {
      listener = l;
      return { ready: Promise.resolve(), close: () => undefined };
    },
  } as unknown as EventStore;
  const emit = (runId: string, seq: number, type: string) =>
    listener!({
      position: ++position,
      event: { runId, seq, type, hash: `${seq}`.padStart(64, '0') } as StoredEvent['event'],
    });
  return { store, emit };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('HeadSigner', () => {
  it('Kafka: signs only the runs it owns; another owner’s anchor clears a pending head; a run gained is signed here', async () => {
    const { store, emit } = fakeStore('kafka');
    const stream = new MemoryStream();
    const signer = new HeadSigner(store, key(), stream, () => undefined);
    await signer.start();
    emit('a', 1, 'run.started');
    emit('a', 2, 'human-request.opened');
    emit('b', 1, 'run.started');
    emit('b', 2, 'human-request.opened');
    await signer.flushNow();
    assert.equal(stream.written.length, 0, 'nothing signed before the cluster says which runs are ours');

    const mine = new Set(['a']);
    signer.signOnlyOwned((runId) => mine.has(runId));
    await tick();
    await signer.flushNow();
    assert.deepEqual(
      stream.written.map((h) => [h.runId, h.seq, h.reason]),
      [['a', 2, 'waiting']],
    );
    assert.equal(signer.status().pending, 0, 'b is not ours: not pending here');

    // b's owner dies before it anchored b; b moves here, and goes on meanwhile: its head is signed here
    emit('b', 3, 'human-decision.recorded');
    mine.add('b');
    await signer.flushNow();
    assert.deepEqual(
      stream.written.map((h) => [h.runId, h.seq]),
      [
        ['a', 2],
        ['b', 3],
      ],
    );

    // c is another instance's and its owner anchors it: dropped here, never signed twice
    emit('c', 1, 'run.completed');
    await signer.flushNow();
    const other = key();
    stream.remote(
      signHead(
        { runId: 'c', seq: 1, hash: '1'.padStart(64, '0'), reason: 'ended', at: 'now' },
        other.privateKey,
      ),
    );
    mine.add('c');
    await signer.flushNow();
    assert.equal(stream.written.filter((h) => h.runId === 'c').length, 0);
    await signer.stop();
  });

  it('a refused write is put back and tried again; events that arrive during the write do not move the signed head', async () => {
    const { store, emit } = fakeStore('sqlite');
    const stream = new MemoryStream();
    const warnings: string[] = [];
    const signer = new HeadSigner(store, key(), stream, (l) => warnings.push(l));
    await signer.start();
    stream.fail = 1;
    emit('r', 1, 'run.started');
    emit('r', 2, 'human-request.opened');
    await new Promise((r) => setImmediate(r)); // the write is under way
    emit('r', 3, 'human-decision.recorded'); // not a reason to sign, and after the signed head
    await tick(); // the write is refused
    assert.equal(signer.status().pending, 1);
    assert.match(signer.status().lastError ?? '', /EIO refused/);
    assert.match(
      warnings.join('\n'),
      /cannot write the anchor stream memory: EIO refused; retrying every second/,
    );
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(
      stream.written.map((h) => [h.runId, h.seq, h.reason]),
      [['r', 2, 'waiting']],
    );
    assert.equal(signer.status().pending, 0);
    await signer.stop();
  });
});
