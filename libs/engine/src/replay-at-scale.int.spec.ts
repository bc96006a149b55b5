import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { ChainVerifier, WorkflowSchema, upcast, type NewEvent } from '@parley/contracts';
import { SqliteEventStore } from '@parley/event-store';
import { evolve, type RunState } from './run-state';

const EVENTS = 100_000;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
/** Heap still in use after a full collection: what the code retains, not garbage waiting. */
function retained(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** A run of 100,000 events verifies and replays by streaming: memory does not grow with the log. */
describe(`a run of ${EVENTS.toLocaleString('en')} events`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-scale-'));
  let store: SqliteEventStore;
  const runId = 'large-run';

  before(async () => {
    store = new SqliteEventStore({ dataDir: dir });
    const workflow = WorkflowSchema.parse({
      name: 'big',
      pattern: 'group-chat',
      participants: ['a', 'b'],
      agents: [
        { name: 'a', system: 'You are a.' },
        { name: 'b', system: 'You are b.' },
      ],
    });
    await store.append(runId, 0, [
      {
        type: 'run.started',
        actor: { kind: 'human', id: 'carol' },
        data: { workflow, input: 'go', requestedBy: 'carol' },
      },
    ]);
    let seq = 1;
    while (seq < EVENTS) {
      const batch: NewEvent[] = [];
      for (let i = 0; i < 1000 && seq + batch.length < EVENTS; i++) {
        batch.push({
          type: 'human-message.posted',
          actor: { kind: 'human', id: 'carol' },
          data: { by: { id: 'carol', role: 'participant' }, text: `message ${seq + batch.length}` },
        });
      }
      await store.append(runId, seq, batch);
      seq += batch.length;
    }
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies in constant memory', async () => {
    const before = retained();
    let peak = before;
    const verifier = new ChainVerifier();
    let n = 0;
    for await (const event of store.stream(runId)) {
      verifier.push(event);
      if (++n % 20_000 === 0) peak = Math.max(peak, retained());
    }
    const verdict = verifier.result();
    assert.equal(verdict.ok, true);
    assert.equal(verdict.events, EVENTS);
    const grownMb = (peak - before) / 1024 / 1024;
    // The whole log is ~25 MB of JSON; streaming holds one page (1,000 events) at a time.
    assert.ok(grownMb < 8, `the retained heap grew by ${grownMb.toFixed(1)} MB while verifying`);
  });

  it('replays to any seq from events alone', async () => {
    let state: RunState | undefined;
    for await (const event of store.stream(runId)) {
      if (event.seq > 50_000) break;
      state = evolve(state, upcast(event));
    }
    assert.equal(state!.seq, 50_000);
    assert.equal(state!.transcript.length, 50_000);
    assert.equal(state!.transcript[49_999].content, 'message 49999');
  });
});
