import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import { startRun, waitForStatus } from '../patterns/helpers';

/** The size of every write-ahead log left in the data folder, by file. */
function wals(dataDir: string): Record<string, number> {
  return Object.fromEntries(
    readdirSync(dataDir)
      .filter((f) => f.endsWith('-wal'))
      .map((f) => [f, statSync(join(dataDir, f)).size]),
  );
}

describe('shutdown on SIGTERM (SQLite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('drains, checkpoints the write-ahead logs and exits in bounded time; a restart has every run', async () => {
    const server = await ParleyProcess.start({ dataDir });
    const alice = server.client('alice');
    const runs: string[] = [];
    for (let i = 0; i < 30; i++)
      runs.push(await startRun(alice, 'refund-desk', `Please refund $40 for order #S${i}`));
    for (const runId of runs) await waitForStatus(alice, runId, 'completed');
    assert.ok(
      Object.values(wals(dataDir)).some((size) => size > 0),
      'the runs went through a WAL',
    );

    const t0 = Date.now();
    server.child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      server.child.once('exit', (c, s) => resolve([c, s])),
    );
    const ms = Date.now() - t0;
    // Nest closes the app on the signal, then re-raises it: a clean exit is 0 or that same signal
    assert.ok(
      code === 0 || signal === 'SIGTERM',
      `exit ${code} ${signal}: ${server.output.join('').slice(-2000)}`,
    );
    assert.ok(ms < 10_000, `exited ${ms} ms after SIGTERM`);
    const left = wals(dataDir);
    assert.ok(
      Object.values(left).every((size) => size === 0),
      `write-ahead logs left behind: ${JSON.stringify(left)}`,
    );
    assert.ok(existsSync(join(dataDir, 'events.db')));

    const again = await ParleyProcess.start({ dataDir });
    try {
      for (const runId of runs)
        assert.equal((await again.client('alice').get(`/api/runs/${runId}`)).body.status, 'completed');
    } finally {
      await again.stop();
    }
  });
});
