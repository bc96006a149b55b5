import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, waitFor, type HttpClient } from '@parley/testing';

/**
 * Disk full under the SQLite log (issue "The log defends itself", finding 3), on a real tmpfs: the
 * data folder on a small file system, filled up while runs are in flight, then freed. Every start
 * answers 201 or a coded 503 (never an uncoded 500), /health turns degraded, and once there is room
 * again the server recovers by itself: every acknowledged run completes, without a restart, and its
 * chain verifies. Needs root (mount); the test command runs as root here.
 */

const isRoot = process.getuid?.() === 0;

/** Write 256 KB chunks until the file system refuses one: it is full. */
function fillUp(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(256 * 1024, 7);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // the last few free bytes too
    const small = Buffer.alloc(512, 7);
    for (;;) {
      try {
        written += writeSync(fd, small);
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

async function health(api: HttpClient): Promise<{ status: number; body: any }> {
  const answer = await api.get('/health');
  return { status: answer.status, body: answer.body };
}

describe(
  'disk full under the SQLite log, then freed',
  { skip: !isRoot && 'needs root to mount a tmpfs' },
  () => {
    let mountPoint: string;
    let server: ParleyProcess;
    before(async () => {
      mountPoint = mkdtempSync(join(tmpdir(), 'parley-tmpfs-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
      mkdirSync(join(mountPoint, 'data'));
      server = await ParleyProcess.start({
        dataDir: join(mountPoint, 'data'),
        env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '2', PARLEY_HTTP_RATE_LIMIT: '0' },
      });
    });
    after(async () => {
      await server?.stop();
      try {
        execFileSync('umount', [mountPoint]);
      } catch {
        // already gone
      }
      rmSync(mountPoint, { recursive: true, force: true });
    });

    it('every start is 201 or a coded 503; /health degrades; freed, every acknowledged run completes without a restart', async () => {
      const api = server.client();
      const start = (i: number) =>
        server
          .client('carol')
          .post('/api/runs', { workflow: 'press-release-auto', input: `Launch number ${i}` });
      const acknowledged: string[] = [];
      for (let i = 0; i < 8; i++) {
        const answer = await start(i);
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        acknowledged.push(answer.body.runId);
      }
      const ballast = join(mountPoint, 'ballast');
      fillUp(ballast);

      // the runs in flight hit the full disk as they append; new starts meanwhile
      const outcomes: Array<[number, string]> = [];
      let degradedSeen: any;
      for (let i = 0; i < 30; i++) {
        const answer = await start(100 + i);
        outcomes.push([answer.status, answer.body?.error?.code ?? '']);
        if (answer.status === 201) acknowledged.push(answer.body.runId);
        else {
          assert.equal(answer.status, 503, JSON.stringify(answer.body));
          assert.equal(answer.body.error.code, 'EVENT_STORE.UNAVAILABLE');
          assert.match(answer.body.error.message, /SQLITE_FULL|SQLITE_IOERR|disk is full/);
        }
        const h = await health(api);
        if (h.status === 503) degradedSeen ??= h.body;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(
        outcomes.some(([status]) => status === 503),
        `some starts were refused: ${JSON.stringify(outcomes)}`,
      );
      assert.ok(degradedSeen, '/health turned degraded');
      assert.equal(degradedSeen.status, 'degraded');
      assert.equal(degradedSeen.checks.eventLog.reachable, false);
      assert.match(degradedSeen.checks.eventLog.lastError, /SQLITE_FULL|SQLITE_IOERR/);

      // the runs in flight were cut off by it too, not only the new ones
      assert.match(
        server.output.join(''),
        /run [0-9a-f-]+: engine error: ParleyError: The event log \(SQLite .*\) cannot be written since/,
      );
      rmSync(ballast);
      await waitFor('/health ok again', async () => (await health(api)).status === 200, {
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      for (const runId of acknowledged) {
        await waitFor(
          `run ${runId} completed`,
          async () => (await api.get(`/api/runs/${runId}`)).body.status === 'completed',
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        assert.equal((await api.get(`/api/runs/${runId}/verify`)).body.ok, true);
      }
      assert.equal(server.child.exitCode, null, 'no restart: the same process all along');
      assert.ok((await health(api)).body.checks.eventLog.outages >= 1);
      assert.match(server.output.join(''), /event log reachable again after \d+ ms/);
    });
  },
);
