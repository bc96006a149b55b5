import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import type { EventListener, EventStore } from '@parley/event-store';
import { RunFeed } from './run-feed';

/** A store whose reads snapshot at call time and can be held, to interleave reads with live events. */
class FakeStore {
  readonly streams = new Map<string, EventEnvelope[]>();
  private listener?: EventListener;
  private position = 0;
  private held?: { promise: Promise<void>; release: () => void };
  reads = 0;

  asStore(): EventStore {
    return this as unknown as EventStore;
  }

  /** Store `n` events; `live: false` keeps them from the subscription (a delayed delivery). */
  append(runId: string, n = 1, live = true): EventEnvelope[] {
    const stream = this.streams.get(runId) ?? [];
    this.streams.set(runId, stream);
    const added: EventEnvelope[] = [];
    for (let i = 0; i < n; i++) {
      const event = { runId, seq: stream.length + 1, type: 'test.event' } as EventEnvelope;
      stream.push(event);
      added.push(event);
      if (live) this.deliver(event);
    }
    return added;
  }

  deliver(event: EventEnvelope): void {
    const stored: StoredEvent = { position: ++this.position, event };
    this.listener?.(stored);
  }

  hold(): () => void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
    return () => {
      this.held = undefined;
      release();
    };
  }

  async head(runId: string) {
    const stream = this.streams.get(runId);
    return stream?.length ? { seq: stream.length, hash: 'h' } : undefined;
  }

  async read(runId: string, options: { fromSeq?: number } = {}) {
    this.reads += 1;
    const snapshot = (this.streams.get(runId) ?? []).filter((e) => e.seq >= (options.fromSeq ?? 1));
    if (this.held) await this.held.promise;
    return snapshot;
  }

  async lastPosition() {
    return this.position;
  }

  subscribe(_after: number, listener: EventListener) {
    this.listener = listener;
    return { ready: Promise.resolve(), close: () => (this.listener = undefined) };
  }
}

const seqs = (events: EventEnvelope[]): number[] => events.map((e) => e.seq);
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('RunFeed: delivery from the log', () => {
  it('catches up after afterSeq, then delivers live events, with no gap and no duplicate', async () => {
    const store = new FakeStore();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)));
    await feed.start();
    store.append('r', 5);
    const sent: EventEnvelope[] = [];
    const release = store.hold();
    const watching = feed.watch('r', 2, (e) => sent.push(e));
    await flush(); // the catch-up read is in flight (it saw seqs 1..5)
    store.append('r', 2); // 6, 7 arrive live meanwhile
    store.deliver(store.streams.get('r')![4]); // and a late duplicate of 5
    release();
    const { headSeq, replayed } = await watching;
    assert.deepEqual(seqs(sent), [3, 4, 5, 6, 7]);
    assert.deepEqual([headSeq, replayed], [7, 5]);
    store.append('r', 1);
    assert.deepEqual(seqs(sent), [3, 4, 5, 6, 7, 8]);
  });

  it('fills a gap from the store when a live event skips ahead, and drops what it already sent', async () => {
    const store = new FakeStore();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)));
    await feed.start();
    store.append('r', 2);
    const sent: EventEnvelope[] = [];
    await feed.watch('r', undefined, (e) => sent.push(e));
    const [three] = store.append('r', 1, false); // stored, its delivery delayed
    store.append('r', 1); // 4 arrives first: a gap
    await flush();
    await flush();
    assert.deepEqual(seqs(sent), [3, 4], 'the missing seq 3 was read from the store before 4');
    store.deliver(three); // the delayed delivery: a duplicate now
    store.append('r', 1);
    assert.deepEqual(seqs(sent), [3, 4, 5]);
  });

  it('reads again when the store read missed a buffered event', async () => {
    const store = new FakeStore();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)));
    await feed.start();
    store.append('r', 1);
    const sent: EventEnvelope[] = [];
    await feed.watch('r', 1, (e) => sent.push(e));
    const release = store.hold();
    store.append('r', 1, false); // 2: stored, not delivered
    store.append('r', 1); // 3: a gap → read (snapshot sees 1..3)
    await flush();
    store.append('r', 1, false); // 4: stored after the snapshot, not delivered
    store.append('r', 1); // 5: buffered while the read is in flight
    release();
    await flush();
    await flush();
    await flush();
    assert.deepEqual(seqs(sent), [2, 3, 4, 5]);
  });

  it('refuses an unknown run and an afterSeq beyond the head, and keeps no watch for them', async () => {
    const store = new FakeStore();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)));
    await feed.start();
    await assert.rejects(
      feed.watch('nope', 0, () => undefined),
      { code: 'RUN.NOT_FOUND' },
    );
    store.append('r', 3);
    await assert.rejects(
      feed.watch('r', 4, () => undefined),
      { code: 'SOCKET.AFTER_SEQ_AHEAD', field: 'afterSeq' },
    );
    assert.equal(feed.watchedRuns, 0);
  });

  it('one subscription fans out to every watch of a run; a removed watch gets nothing more', async () => {
    const store = new FakeStore();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)));
    await feed.start();
    store.append('r', 1);
    store.append('other', 1);
    const a: EventEnvelope[] = [];
    const b: EventEnvelope[] = [];
    const { watch } = await feed.watch('r', 0, (e) => a.push(e));
    await feed.watch('r', 1, (e) => b.push(e));
    store.append('r', 1);
    store.append('other', 1);
    feed.remove(watch);
    store.append('r', 1);
    assert.deepEqual(seqs(a), [1, 2]);
    assert.deepEqual(seqs(b), [2, 3]);
    assert.equal(feed.watchedRuns, 1);
  });
});
