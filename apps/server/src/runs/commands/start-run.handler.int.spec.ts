import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, waitFor } from '@parley/testing';
import { loadConfig } from '../../config/config';
import { createCore, type ParleyCore } from '../../core/core';
import { StartRunCommand } from './start-run.command';
import { StartRunHandler } from './start-run.handler';

/**
 * Found while looking for what grows during the soak (test/load; too small for its RSS figures to
 * show): a start with an idempotency key stayed in the handler's map of pending keys for the life
 * of the process unless the same key was sent again. Real core: SQLite log, read model, engine,
 * offline model.
 */
describe('StartRunHandler: idempotency keys', () => {
  let core: ParleyCore;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-start-run-'));
    core = await createCore(
      loadConfig({
        PARLEY_DATA_DIR: dataDir,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'workflows'),
        PARLEY_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
      }),
    );
    await core.projection.start(); // as CoreModule does at bootstrap
  });
  after(async () => {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('forgets a key once the read model knows it, and the key still finds its run', async () => {
    const handler = new StartRunHandler(core.engine, core.workflows, core.projection, core);
    const maya = { id: 'maya', roles: ['participant'] };
    const start = (key: string) =>
      handler.execute(
        new StartRunCommand(
          { body: { workflow: 'refund-desk', input: 'Please refund $20 for #K1', idempotencyKey: key } },
          maya,
        ),
      );
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    // each key sent twice at once (a client retrying): one run per key
    const answers = await Promise.all(keys.flatMap((k) => [start(k), start(k)]));
    for (let i = 0; i < keys.length; i++) {
      assert.equal(answers[2 * i].runId, answers[2 * i + 1].runId);
      assert.deepEqual([answers[2 * i].created, answers[2 * i + 1].created].sort(), [false, true]);
    }
    await waitFor('the pending keys to be forgotten', () => handler.pendingKeys === 0, { timeoutMs: 5_000 });
    const again = await start('key-3');
    assert.deepEqual(
      again,
      { runId: answers[6].runId, created: false },
      'the read model answers for the key',
    );
    assert.equal(handler.pendingKeys, 0);
  });
});
