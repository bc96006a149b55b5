import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import type { EventListener, EventStore } from '@parley/event-store';
import { RunFeed, type RunRooms } from './run-feed';

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

/** The run rooms of a gateway: members by run, and what each socket received, by which path. */
class FakeRooms implements RunRooms {
  readonly rooms = new Map<string, Set<string>>();
  readonly received = new Map<string, EventEnvelope[]>();
  readonly broadcasts: { runId: string; seq: number; except: string[] }[] = [];
  readonly direct: { id: string; seq: number }[] = [];

  join(runId: string, id: string): void {
    const room = this.rooms.get(runId) ?? new Set<string>();
    this.rooms.set(runId, room.add(id));
  }

  /** The per-socket path: what a watch's `send` does for socket `id`. */
  sender(id: string): (event: EventEnvelope) => void {
    return (event) => {
      this.direct.push({ id, seq: event.seq });
      this.got(id).push(event);
    };
  }

  got(id: string): EventEnvelope[] {
    const list = this.received.get(id) ?? [];
    this.received.set(id, list);
    return list;
  }

  members(runId: string): ReadonlySet<string> | undefined {
    return this.rooms.get(runId);
  }

  broadcast(runId: string, event: EventEnvelope, except: string[]): void {
    this.broadcasts.push({ runId, seq: event.seq, except: [...except].sort() });
    for (const id of this.rooms.get(runId) ?? []) if (!except.includes(id)) this.got(id).push(event);
  }
}

describe('RunFeed: one broadcast to the caught-up watchers of a run', () => {
  /** Watch `runId` as socket `id` from `afterSeq`, then join the room, as the gateway does. */
  async function watchAs(feed: RunFeed, rooms: FakeRooms, runId: string, id: string, afterSeq?: number) {
    const watch = feed.open(runId, rooms.sender(id), id);
    const result = await feed.begin(watch, afterSeq);
    rooms.join(runId, id);
    return { watch, ...result };
  }

  it('sends a live event once to all caught-up watchers, and to each exactly once', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)), rooms);
    await feed.start();
    store.append('r', 2);
    store.append('other', 1);
    for (const id of ['a', 'b', 'c']) await watchAs(feed, rooms, 'r', id);
    await watchAs(feed, rooms, 'other', 'x');
    rooms.direct.length = 0;
    store.append('r', 2);
    store.append('other', 1);
    assert.deepEqual(rooms.broadcasts, [
      { runId: 'r', seq: 3, except: [] },
      { runId: 'r', seq: 4, except: [] },
      { runId: 'other', seq: 2, except: [] },
    ]);
    assert.deepEqual(rooms.direct, [], 'nothing went socket by socket');
    for (const id of ['a', 'b', 'c']) assert.deepEqual(seqs(rooms.got(id)), [3, 4], id);
    assert.deepEqual(seqs(rooms.got('x')), [2]);
  });

  it('leaves a watcher in catch-up out of the broadcast and serves it alone; once caught up it shares, no duplicate', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)), rooms);
    await feed.start();
    store.append('r', 3);
    await watchAs(feed, rooms, 'r', 'a');
    await watchAs(feed, rooms, 'r', 'b');
    rooms.join('r', 'c'); // c is still in the room from a watch it replaces (a re-watch)
    rooms.join('r', 'stale'); // and a member with no watch at all
    const release = store.hold();
    const cWatching = watchAs(feed, rooms, 'r', 'c', 0);
    await flush(); // c's catch-up read is in flight (it saw seqs 1..3)
    store.append('r', 2); // 4, 5 arrive live meanwhile
    assert.deepEqual(rooms.broadcasts, [
      { runId: 'r', seq: 4, except: ['c', 'stale'] },
      { runId: 'r', seq: 5, except: ['c', 'stale'] },
    ]);
    assert.deepEqual(seqs(rooms.got('c')), [], 'c got nothing ahead of its catch-up');
    release();
    const { headSeq, replayed } = await cWatching;
    assert.deepEqual([headSeq, replayed], [5, 5]);
    assert.deepEqual(seqs(rooms.got('c')), [1, 2, 3, 4, 5], 'the store first, then the buffered live events');
    assert.deepEqual(
      rooms.direct.map((d) => d.id),
      ['c', 'c', 'c', 'c', 'c'],
      'c alone was served one by one',
    );
    store.append('r', 1); // 6: c is caught up now and shares the broadcast
    assert.deepEqual(rooms.broadcasts.at(-1), { runId: 'r', seq: 6, except: ['stale'] });
    assert.deepEqual(seqs(rooms.got('a')), [4, 5, 6]);
    assert.deepEqual(seqs(rooms.got('b')), [4, 5, 6]);
    assert.deepEqual(seqs(rooms.got('c')), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(seqs(rooms.got('stale')), []);
    assert.equal(rooms.direct.length, 5);
  });

  it('a new watcher is served alone until it is in the room', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)), rooms);
    await feed.start();
    store.append('r', 1);
    await watchAs(feed, rooms, 'r', 'a');
    const late = feed.open('r', rooms.sender('b'), 'b');
    await feed.begin(late, 1); // caught up, but not joined yet
    store.append('r', 1);
    assert.deepEqual(rooms.broadcasts, [{ runId: 'r', seq: 2, except: [] }]);
    assert.deepEqual(rooms.direct, [{ id: 'b', seq: 2 }]);
    rooms.join('r', 'b');
    store.append('r', 1);
    assert.deepEqual(rooms.broadcasts.at(-1), { runId: 'r', seq: 3, except: [] });
    assert.deepEqual(seqs(rooms.got('a')), [2, 3]);
    assert.deepEqual(seqs(rooms.got('b')), [2, 3]);
  });

  it('fills a gap watcher by watcher, then broadcasts again; a late duplicate goes nowhere', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)), rooms);
    await feed.start();
    store.append('r', 2);
    await watchAs(feed, rooms, 'r', 'a');
    await watchAs(feed, rooms, 'r', 'b');
    const [three] = store.append('r', 1, false); // stored, its delivery delayed
    store.append('r', 1); // 4 first: a gap for both
    await flush();
    await flush();
    assert.deepEqual(rooms.broadcasts, [], 'no watcher could take 4 as its next event');
    store.deliver(three); // the delayed delivery: a duplicate now
    store.append('r', 1);
    assert.deepEqual(rooms.broadcasts, [{ runId: 'r', seq: 5, except: [] }]);
    assert.deepEqual(seqs(rooms.got('a')), [3, 4, 5]);
    assert.deepEqual(seqs(rooms.got('b')), [3, 4, 5]);
  });

  it('a removed watch is left out even while its socket is still in the room', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const feed = new RunFeed(store.asStore(), (e) => assert.fail(String(e)), rooms);
    await feed.start();
    store.append('r', 1);
    await watchAs(feed, rooms, 'r', 'a');
    const { watch } = await watchAs(feed, rooms, 'r', 'b');
    feed.remove(watch); // an unwatch: the socket leaves the room after this
    store.append('r', 1);
    assert.deepEqual(rooms.broadcasts, [{ runId: 'r', seq: 2, except: ['b'] }]);
    assert.deepEqual(seqs(rooms.got('b')), []);
  });

  it('falls back to one send per watcher when the broadcast fails', async () => {
    const store = new FakeStore();
    const rooms = new FakeRooms();
    const errors: unknown[] = [];
    rooms.broadcast = () => {
      throw new Error('adapter down');
    };
    const feed = new RunFeed(store.asStore(), (e) => errors.push(e), rooms);
    await feed.start();
    store.append('r', 1);
    await watchAs(feed, rooms, 'r', 'a');
    await watchAs(feed, rooms, 'r', 'b');
    store.append('r', 2);
    assert.equal(errors.length, 2);
    assert.deepEqual(seqs(rooms.got('a')), [2, 3]);
    assert.deepEqual(seqs(rooms.got('b')), [2, 3]);
  });
});
