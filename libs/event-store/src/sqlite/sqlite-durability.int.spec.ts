import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { SqliteEventStore } from './sqlite-event-store';
import { WAL_SIZE_LIMIT } from './sqlite-log';

const root = mkdtempSync(join(tmpdir(), 'parley-sqlite-durability-'));
after(() => rmSync(root, { recursive: true, force: true }));

const started = (runId: string): NewEvent => ({
  type: 'run.started',
  actor: { kind: 'human', id: 'alice' },
  data: {
    workflow: {
      name: 'w',
      pattern: 'single-agent',
      agent: 'a',
      agents: [{ name: 'a', system: 's', model: 'offline', tools: [] }],
      policies: { approvals: [], escalations: [] },
      maxSteps: 5,
    },
    input: `run ${runId}`,
    requestedBy: 'alice',
  },
});
const message = (text: string): NewEvent => ({
  type: 'human-message.posted',
  actor: { kind: 'human', id: 'alice' },
  data: { by: { id: 'alice', role: 'participant' }, text },
});

describe('the SQLite log on power loss and on shutdown', () => {
  it('commits with synchronous = FULL unless asked for NORMAL', async () => {
    const full = new SqliteEventStore({ dataDir: join(root, 'full') });
    const normal = new SqliteEventStore({ dataDir: join(root, 'normal'), synchronous: 'normal' });
    try {
      assert.equal(full.synchronousMode(), 'full');
      assert.equal(normal.synchronousMode(), 'normal');
    } finally {
      await full.close();
      await normal.close();
    }
  });

  it('a closed log leaves no write-ahead log behind: everything is in the database file', async () => {
    const dataDir = join(root, 'closed');
    const store = new SqliteEventStore({ dataDir });
    for (let r = 0; r < 200; r++) {
      const runId = `run-${r}`;
      await store.append(runId, 0, [started(runId), message('a'.repeat(2000)), message('b'.repeat(2000))]);
    }
    const wal = join(dataDir, 'events.db-wal');
    assert.ok(existsSync(wal) && statSync(wal).size > 0, 'the appends went through the WAL');
    await store.close();
    assert.ok(
      !existsSync(wal) || statSync(wal).size === 0,
      `WAL left: ${existsSync(wal) && statSync(wal).size} bytes`,
    );
    const again = new SqliteEventStore({ dataDir });
    try {
      assert.equal((await again.head('run-199'))?.seq, 3, 'nothing was lost by the checkpoint');
    } finally {
      await again.close();
    }
  });

  it('a long write burst keeps the WAL bounded, cut back to its limit once a checkpoint has run', async () => {
    const dataDir = join(root, 'burst');
    const store = new SqliteEventStore({ dataDir });
    const wal = join(dataDir, 'events.db-wal');
    const walSize = (): number => (existsSync(wal) ? statSync(wal).size : 0);
    const body = 'x'.repeat(8000);
    // The writer's own checkpoint threshold (wal_autocheckpoint pages × page size) bounds the WAL while
    // the background checkpointer is behind; nothing may grow past it.
    const pages = 20000 * 4096;
    let peak = 0;
    try {
      const runs = 2000; // 4 × 8 KB each: about 4 × the limit, written without a pause
      for (let r = 0; r < runs; r++) {
        const runId = `burst-${r}`;
        await store.append(runId, 0, [started(runId), message(body), message(body), message(body)]);
        if (r % 50 === 0) peak = Math.max(peak, walSize());
      }
      assert.ok(runs * 4 * 8000 > 3 * WAL_SIZE_LIMIT);
      assert.ok(peak <= pages + WAL_SIZE_LIMIT, `WAL peaked at ${peak} bytes during the burst`);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // a background checkpoint completes
      await store.append('after', 0, [started('after')]); // the next write rewinds the WAL and cuts it back
      assert.ok(
        walSize() <= WAL_SIZE_LIMIT,
        `WAL ${walSize()} bytes > limit ${WAL_SIZE_LIMIT} (peak ${peak})`,
      );
    } finally {
      await store.close();
    }
    assert.equal(walSize(), 0, 'a clean close leaves an empty WAL');
  });
});
