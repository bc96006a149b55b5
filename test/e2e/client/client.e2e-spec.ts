import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { after, describe, it } from 'node:test';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyApiError, ParleyClient } from '@parley/client';
import { ParleyProcess, REPO_ROOT, TEST_USERS, waitFor } from '@parley/testing';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('@parley/client against a real server', () => {
  const servers: ParleyProcess[] = [];
  after(async () => {
    for (const s of servers) await s.dispose().catch(() => undefined);
  });

  it('starts a run, decides its approval with the payload hash taken care of, and refuses bad input with a coded error', async () => {
    const server = await ParleyProcess.start();
    servers.push(server);
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    const alice = carol.as(TEST_USERS.alice.token);
    assert.ok((await carol.workflows()).some((w) => w.name === 'refund-desk'));
    const { runId } = await carol.startRun({
      workflow: 'refund-desk',
      input: 'Please refund $250 for order #B777, it never arrived',
    });
    const approval = await waitFor('the approval', async () => (await alice.requests({ runId }))[0]);
    const notApprover = await carol.decide(approval.id, { decision: 'approve' }).catch((e: unknown) => e);
    assert.ok(notApprover instanceof ParleyApiError);
    assert.equal(notApprover.status, 403);
    assert.equal(notApprover.code, 'REQUEST.FORBIDDEN', 'a participant may not approve');
    const decided = await alice.decide(approval.id, { decision: 'approve', comment: 'ok' });
    assert.equal(decided.requestId, approval.id);
    const done = await waitFor('completed', async () => {
      const run = await carol.getRun(runId);
      return run.status === 'completed' ? run : undefined;
    });
    assert.ok(done.toolCalls.some((c) => c.tool === 'process_refund' && c.status === 'completed'));
    const bad = await carol.startRun({ workflow: 'refund-desk', input: '' }).catch((e: unknown) => e);
    assert.ok(bad instanceof ParleyApiError);
    assert.equal(bad.code, 'REQUEST.INVALID_BODY');
    assert.equal(bad.field, 'input');
    const audit = await carol.audit(runId);
    assert.equal(audit.requests[0].decisions[0].by.id, 'alice');
    assert.equal((await carol.verify(runId)).ok, true);
    const ndjson = await carol.exportRun(runId);
    assert.equal(ndjson.trim().split('\n').length, 1 + (await carol.events(runId)).length);
  });

  it('watches a run from a seq across a server restart: every event once, in order, no gap', async () => {
    const port = await freePort();
    let server = await ParleyProcess.start({ env: { PORT: String(port) } });
    servers.push(server);
    const baseUrl = server.url;
    const carol = new ParleyClient({ baseUrl, token: TEST_USERS.carol.token });
    const alice = carol.as(TEST_USERS.alice.token);
    const { runId } = await carol.startRun({
      workflow: 'refund-desk',
      input: 'Please refund $250 for order #B777, it never arrived',
    });
    const approval = await waitFor('the approval', async () => (await alice.requests({ runId }))[0]);
    const seen: EventEnvelope[] = [];
    const watch = carol.watch(runId, { afterSeq: 1, onEvent: (e) => seen.push(e) });
    await watch.ready;
    assert.equal(seen[0].seq, 2, 'from the seq asked for');
    const beforeRestart = seen.length;
    await server.kill(); // SIGKILL: the socket drops
    server = await ParleyProcess.start({ dataDir: server.dataDir, env: { PORT: String(port) } });
    servers.push(server);
    await alice.decide(approval.id, { decision: 'approve' });
    await waitFor('run.completed over the watch', async () =>
      seen.some((e) => e.type === 'run.completed') ? true : undefined,
    );
    watch.close();
    assert.ok(seen.length > beforeRestart);
    assert.deepEqual(
      seen.map((e) => e.seq),
      seen.map((_, i) => i + 2),
      'each seq once, in order, no gap across the reconnect',
    );
  });

  it('follows a paged inbox across a server restart: the pages it held come again, and the changes after', async () => {
    const port = await freePort();
    let server = await ParleyProcess.start({ env: { PORT: String(port) } });
    servers.push(server);
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    const alice = carol.as(TEST_USERS.alice.token);
    for (let i = 0; i < 3; i++)
      await carol.startRun({ workflow: 'refund-desk', input: `Please refund $${210 + i} for order #R${i}` });
    await waitFor('three approvals', async () =>
      (await alice.requestsPage()).total === 3 ? true : undefined,
    );
    const watch = alice.watchInbox({ query: { sort: 'age', limit: 1 }, onChange: () => undefined });
    try {
      await watch.ready;
      watch.more();
      await waitFor('two pages held', () => (watch.requests.length === 2 ? true : undefined));
      const held = watch.requests.map((r) => r.id);
      await server.kill(); // SIGKILL: the socket drops
      server = await ParleyProcess.start({ dataDir: server.dataDir, env: { PORT: String(port) } });
      servers.push(server);
      await alice.decide(held[0], { decision: 'approve' });
      // the reconnection reads one page as long as what was held (2): whether the decision came
      // before it or after, the decided one is gone and the second is still there
      await waitFor(
        'after the reconnect: the decided one gone, the second still held',
        () => {
          const ids = watch.requests.map((r) => r.id);
          return watch.state.total === 2 && !ids.includes(held[0]) && ids.includes(held[1])
            ? true
            : undefined;
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(
        watch.requests.length + (watch.state.hasMore ? 1 : 0),
        2,
        'the third held or on a page after',
      );
    } finally {
      watch.close();
    }
  });

  it('a watch of an unknown run is refused with a coded error', async () => {
    const server = servers[servers.length - 1];
    const carol = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.carol.token });
    const watch = carol.watch('no-such-run', { onEvent: () => undefined });
    await assert.rejects(watch.ready, (e: ParleyApiError) => e.code === 'RUN.NOT_FOUND');
    watch.close();
  });
});

describe('@parley/client README', () => {
  it('its example runs as written against a real server', async () => {
    const server = await ParleyProcess.start();
    try {
      const readme = readFileSync(join(REPO_ROOT, 'libs', 'client', 'README.md'), 'utf8');
      const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
      assert.ok(code, 'the README has a ts example');
      const js = ts.transpileModule(code, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const dir = mkdtempSync(join(tmpdir(), 'parley-client-readme-'));
      writeFileSync(join(dir, 'example.js'), js);
      const run = spawnSync(
        process.execPath,
        ['--require', join(REPO_ROOT, 'bin', 'register-paths.js'), join(dir, 'example.js')],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            ...process.env,
            PARLEY_URL: server.url,
            PARLEY_TOKEN: TEST_USERS.carol.token,
            PARLEY_APPROVER_TOKEN: TEST_USERS.alice.token,
          },
        },
      );
      rmSync(dir, { recursive: true, force: true });
      assert.equal(run.status, 0, run.stderr);
      const lines = run.stdout.trim().split('\n');
      assert.equal(lines.at(-1), 'completed');
      assert.match(run.stdout, /^1 run\.started$/m);
      assert.match(run.stdout, /human-request\.opened/);
    } finally {
      await server.dispose();
    }
  });
});
