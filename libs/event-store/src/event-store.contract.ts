import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope, NewEvent, StoredEvent } from '@parley/contracts';
import { ConcurrencyError, ParleyError, verifyChain } from '@parley/contracts';
import { waitFor } from '@parley/testing';
import type { EventStore } from './event-store.port';

/** How a contract run makes stores: `open` may be called again with the same `location` to reopen. */
export interface StoreFactory<S extends EventStore = EventStore> {
  open(location: string): Promise<S>;
  newLocation(): string;
  cleanup?(): Promise<void>;
  /**
   * Records the underlying log holds beyond the stored events (a Kafka topic can hold a record
   * twice; a consumer then skips it). Asked of a freshly opened store; omitted: none can exist.
   */
  extraRecords?(store: S): number;
}

const system = { kind: 'system', id: 'contract-test' } as const;
const human = { kind: 'human', id: 'alice' } as const;

export function message(text: string): NewEvent {
  return {
    type: 'human-message.posted',
    actor: human,
    data: { by: { id: 'alice', role: 'participant' }, text },
  };
}

function completed(output: string): NewEvent {
  return { type: 'run.completed', actor: system, data: { output } };
}

/** One suite, run against every adapter: both must behave the same. */
export function eventStoreContract<S extends EventStore>(name: string, factory: StoreFactory<S>): void {
  describe(`EventStore contract: ${name}`, () => {
    let location: string;
    let store: S;
    const opened: S[] = [];
    /** Runs written by the concurrency tests, with the number of events each must hold. */
    const concurrencyRuns: Array<{ runId: string; events: number }> = [];
    const open = async (where = location): Promise<S> => {
      const s = await factory.open(where);
      opened.push(s);
      return s;
    };

    before(async () => {
      location = factory.newLocation();
      store = await open();
    });
    after(async () => {
      for (const s of opened) await s.close().catch(() => undefined);
      await factory.cleanup?.();
    });

    it('appends a batch and reads it back sealed, in order', async () => {
      const runId = `run-${randomUUID()}`;
      const written = await store.append(runId, 0, [message('one'), message('two'), message('three')]);
      assert.deepEqual(
        written.map((e) => e.seq),
        [1, 2, 3],
      );
      const read = await store.read(runId);
      assert.deepStrictEqual(read, written);
      assert.equal(read[0].type, 'human-message.posted');
      assert.equal(read[0].runId, runId);
      assert.equal(read[1].prevHash, read[0].hash);
      assert.deepEqual(await store.head(runId), { seq: 3, hash: read[2].hash });
      assert.deepEqual(
        (await store.read(runId, { fromSeq: 2 })).map((e) => e.seq),
        [2, 3],
      );
    });

    it('rejects a stale expectedSeq with a coded ConcurrencyError and writes nothing', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(runId, 0, [message('first')]);
      await assert.rejects(
        store.append(runId, 0, [message('stale'), message('stale too')]),
        (error: unknown) => {
          assert.ok(error instanceof ConcurrencyError);
          assert.equal(error.code, 'EVENT_STORE.CONCURRENCY');
          assert.equal(error.actualSeq, 1);
          return true;
        },
      );
      await assert.rejects(store.append(runId, 5, [message('ahead')]), ConcurrencyError);
      assert.equal((await store.read(runId)).length, 1);
    });

    it('lets exactly one of two concurrent appends at the same seq win', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(runId, 0, [message('start')]);
      const results = await Promise.allSettled([
        store.append(runId, 1, [message('A')]),
        store.append(runId, 1, [message('B')]),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
      assert.equal((await store.read(runId)).length, 2);
    });

    it('50 concurrent appends at the same expectedSeq: exactly 1 succeeds, 49 coded conflicts', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(runId, 0, [message('start')]);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => store.append(runId, 1, [message(`racer ${i}`)])),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1, 'exactly one append wins');
      assert.equal(lost.length, 49);
      for (const r of lost) {
        const error = r.reason as ConcurrencyError;
        assert.ok(error instanceof ConcurrencyError, String(error));
        assert.equal(error.code, 'EVENT_STORE.CONCURRENCY');
        assert.deepEqual(error.details, { runId, expectedSeq: 1, actualSeq: 2 });
      }
      const events = await store.read(runId);
      assert.equal(events.length, 2);
      assert.deepStrictEqual(events[1], won[0].value[0], 'the winner is what is stored');
      assert.equal(verifyChain(events).ok, true);
      concurrencyRuns.push({ runId, events: 2 });
    });

    it('the same event id appended 10 times (concurrently, then late and stale) is stored once', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(runId, 0, [message('start')]);
      const eventId = randomUUID();
      const once: NewEvent = { ...message('exactly once'), eventId };
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => store.append(runId, 1, [once])),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(10).fill('fulfilled'),
        'a repeat is not an error: it answers what is stored',
      );
      const first = (results[0] as PromiseFulfilledResult<EventEnvelope[]>).value;
      for (const r of results)
        assert.deepStrictEqual((r as PromiseFulfilledResult<EventEnvelope[]>).value, first);
      assert.equal(first[0].eventId, eventId);
      assert.equal(first[0].seq, 2);
      // A retry arriving after the head moved on (its expectedSeq is stale): still the stored event.
      await store.append(runId, 2, [message('later')]);
      assert.deepStrictEqual(await store.append(runId, 1, [once]), first);
      const events = await store.read(runId);
      assert.deepEqual(
        events.map((e) => (e.data as { text: string }).text),
        ['start', 'exactly once', 'later'],
      );
      assert.equal(events.filter((e) => e.eventId === eventId).length, 1);
      concurrencyRuns.push({ runId, events: 3 });
    });

    it('a repeated batch is stored once; an event id reused for other content or a partial batch is refused', async () => {
      const runId = `run-${randomUUID()}`;
      const batch: NewEvent[] = ['a', 'b', 'c'].map((text) => ({ ...message(text), eventId: randomUUID() }));
      const written = await store.append(runId, 0, batch);
      const repeats = await Promise.all(Array.from({ length: 9 }, () => store.append(runId, 0, batch)));
      for (const repeat of repeats) assert.deepStrictEqual(repeat, written);
      const conflict = (code: string) => (error: unknown) =>
        error instanceof ParleyError && error.code === code && error.kind === 'conflict';
      await assert.rejects(
        store.append(runId, 3, [{ ...message('not a'), eventId: batch[0].eventId }]),
        conflict('EVENT_STORE.EVENT_ID_CONFLICT'),
        'same id, other data',
      );
      await assert.rejects(
        store.append(runId, 3, [{ ...completed('a'), eventId: batch[0].eventId }]),
        conflict('EVENT_STORE.EVENT_ID_CONFLICT'),
        'same id, other type',
      );
      await assert.rejects(
        store.append(runId, 3, [batch[2], { ...message('d'), eventId: randomUUID() }]),
        conflict('EVENT_STORE.EVENT_ID_CONFLICT'),
        'partly stored',
      );
      await assert.rejects(
        store.append(runId, 3, [batch[1], batch[0]]),
        conflict('EVENT_STORE.EVENT_ID_CONFLICT'),
        'stored in another order',
      );
      const twice = { ...message('e'), eventId: randomUUID() };
      await assert.rejects(
        store.append(runId, 3, [twice, twice]),
        conflict('EVENT_STORE.EVENT_ID_CONFLICT'),
        'an id twice in one append',
      );
      assert.deepStrictEqual(await store.read(runId), written, 'nothing written by any refusal');
      // The id is per run: another run may hold an event with the same id (a fork's copy).
      const other = `run-${randomUUID()}`;
      assert.equal((await store.append(other, 0, [batch[0]]))[0].runId, other);
      concurrencyRuns.push({ runId, events: 3 }, { runId: other, events: 1 });
    });

    it('a fresh client of the same log holds exactly what the races above stored', async () => {
      assert.equal(concurrencyRuns.length, 4, 'the concurrency tests ran first');
      const fresh = await open(location);
      for (const { runId, events } of concurrencyRuns) {
        const stored = await fresh.read(runId);
        assert.equal(stored.length, events, `run ${runId}`);
        assert.deepStrictEqual(stored, await store.read(runId));
        assert.equal(new Set(stored.map((e) => e.eventId)).size, events, 'no event id twice');
      }
      assert.equal(factory.extraRecords?.(fresh) ?? 0, 0, 'no duplicate or losing record in the log itself');
    });

    it('refuses invalid events with a coded error and writes nothing', async () => {
      const runId = `run-${randomUUID()}`;
      await assert.rejects(
        store.append(runId, 0, [
          message('fine'),
          { type: 'run.completed', actor: system, data: { output: 42 } },
        ]),
        (error: unknown) =>
          error instanceof ParleyError &&
          error.code === 'EVENT.INVALID_DATA' &&
          error.field === 'data.output',
      );
      await assert.rejects(
        store.append(runId, 0, [
          {
            type: 'human-decision.recorded',
            actor: { kind: 'agent', id: 'sneaky' },
            data: {
              requestId: 'r',
              decision: 'approve',
              by: { id: 'x', role: 'approver' },
              payloadHash: 'h',
            },
          },
        ]),
        (error: unknown) => error instanceof ParleyError && error.code === 'EVENT.ACTOR_NOT_ALLOWED',
      );
      assert.equal((await store.read(runId)).length, 0);
      assert.equal(await store.head(runId), undefined);
    });

    it('keeps order within each run while runs interleave', async () => {
      const runs = [0, 1, 2, 3].map(() => `run-${randomUUID()}`);
      for (let i = 0; i < 5; i++) {
        await Promise.all(runs.map((runId) => store.append(runId, i, [message(`m${i}`)])));
      }
      for (const runId of runs) {
        const events = await store.read(runId);
        assert.deepEqual(
          events.map((e) => (e.data as { text: string }).text),
          ['m0', 'm1', 'm2', 'm3', 'm4'],
        );
        assert.deepEqual(verifyChain(events), { ok: true, events: 5, head: events[4].hash });
      }
    });

    it('replays globally from a position, in the order events were stored', async () => {
      const start = await store.lastPosition();
      const a = `run-${randomUUID()}`;
      const b = `run-${randomUUID()}`;
      await store.append(a, 0, [message('a1')]);
      await store.append(b, 0, [message('b1'), message('b2')]);
      await store.append(a, 1, [completed('done')]);
      const all = await store.readAll({ afterPosition: start });
      const mine = all.filter((s) => s.event.runId === a || s.event.runId === b);
      assert.deepEqual(
        mine.map((s) => `${s.event.runId === a ? 'a' : 'b'}${s.event.seq}`),
        ['a1', 'b1', 'b2', 'a2'],
      );
      const positions = all.map((s) => s.position);
      assert.deepEqual(
        positions,
        [...positions].sort((x, y) => x - y),
      );
      const tail = await store.readAll({ afterPosition: mine[1].position });
      assert.equal(tail[0].event.eventId, mine[2].event.eventId);
      assert.equal(await store.lastPosition(), all[all.length - 1].position);
    });

    it('delivers a live subscription: catch-up first, then new events, each once, in order', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(runId, 0, [message('before-1'), message('before-2')]);
      const seen: StoredEvent[] = [];
      const sub = store.subscribe(0, (stored) => {
        if (stored.event.runId === runId) seen.push(stored);
      });
      await sub.ready;
      await store.append(runId, 2, [message('live-1')]);
      await store.append(runId, 3, [message('live-2'), message('live-3')]);
      await waitFor('five events delivered', () => seen.length >= 5);
      sub.close();
      assert.deepEqual(
        seen.map((s) => s.event.seq),
        [1, 2, 3, 4, 5],
      );
      await store.append(runId, 5, [message('after close')]);
      assert.equal(seen.length, 5);
    });

    it('streams a run in seq order', async () => {
      const runId = `run-${randomUUID()}`;
      await store.append(
        runId,
        0,
        Array.from({ length: 25 }, (_, i) => message(`m${i}`)),
      );
      const seqs: number[] = [];
      for await (const event of store.stream(runId, { fromSeq: 3 })) seqs.push(event.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: 23 }, (_, i) => i + 3),
      );
    });

    it('persists across close and reopen (a new client rebuilds what it serves)', async () => {
      const where = factory.newLocation();
      const first = await open(where);
      const runId = `run-${randomUUID()}`;
      const written = await first.append(runId, 0, [message('durable'), completed('ok')]);
      await first.close();
      const second = await open(where);
      assert.deepStrictEqual(await second.read(runId), written);
      await second.append(runId, 2, [message('after reopen')]);
      await assert.rejects(second.append(runId, 2, [message('stale')]), ConcurrencyError);
      const events = await second.read(runId);
      assert.equal(verifyChain(events).ok, true);
    });

    it('keeps the hash chain intact and detects a tampered stream', async () => {
      const runId = `run-${randomUUID()}`;
      const events = await store.append(runId, 0, [message('a'), message('b'), message('c'), message('d')]);
      const verdict = verifyChain(await store.read(runId));
      assert.deepEqual(verdict, { ok: true, events: 4, head: events[3].hash });

      const edited = events.map((e) => structuredClone(e));
      (edited[1].data as { text: string }).text = 'B';
      assert.deepEqual(pick(verifyChain(edited)), { ok: false, seq: 2, reason: 'edited' });

      const deleted = events.filter((e) => e.seq !== 3);
      assert.deepEqual(pick(verifyChain(deleted)), { ok: false, seq: 3, reason: 'missing' });

      const swapped = [events[0], events[2], events[1], events[3]];
      assert.deepEqual(pick(verifyChain(swapped)), { ok: false, seq: 2, reason: 'reordered' });
    });

    it('imports a verified stream and refuses a broken one', async () => {
      const source = `run-${randomUUID()}`;
      const events = await store.append(source, 0, [message('x'), message('y')]);
      const target = await open(factory.newLocation());
      await target.importStream(source, events);
      assert.deepStrictEqual(await target.read(source), events);
      await assert.rejects(target.importStream(source, events), ConcurrencyError);
      const broken = events.map((e) => structuredClone(e));
      (broken[0].data as { text: string }).text = 'forged';
      await assert.rejects(
        target.importStream(
          `run-${randomUUID()}`,
          broken.map((e) => ({ ...e })),
        ),
        (error: unknown) => error instanceof ParleyError && error.code.startsWith('IMPORT.'),
      );
    });
  });
}

function pick(v: ReturnType<typeof verifyChain>): Partial<EventEnvelope> & Record<string, unknown> {
  return v.ok ? { ok: true } : { ok: false, seq: v.seq, reason: v.reason };
}
