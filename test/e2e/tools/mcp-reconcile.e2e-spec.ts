import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, waitFor } from '@parley/testing';
import {
  decide,
  events,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
  type RequestView,
} from '../patterns/helpers';
import { FILESYSTEM_SERVER, writeToolsFile } from './tools-kit';

/**
 * Exactly once, or a human decides: an MCP tool (not idempotent: its server is not trusted) killed
 * between `tool-call.started` and its result is never run again blindly. After the restart the run
 * opens a `reconcile` request and runs nothing until a human says what happened: `answer` (it
 * happened: the result), `approve` (run it again, same key) or `reject` (fail the step).
 */
describe('MCP tool interrupted by a SIGKILL: a reconcile request', () => {
  let folder: string;
  let dataDir: string;
  let toolsFile: string;
  let server: ParleyProcess | undefined;
  const runs: Record<string, string> = {};
  const env = (): Record<string, string> => ({
    PARLEY_TOOLS_FILE: toolsFile,
    PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'filesystem', 'workflows'),
  });
  const crashing = { PARLEY_CHAOS_CRASH_POINTS: 'after-tool', PARLEY_CHAOS_CRASH_PROBABILITY: '1' };

  /** Start a write, approve it, and wait for the server to kill itself right after the write. */
  async function writeAndCrash(name: string): Promise<void> {
    server = await ParleyProcess.start({ dataDir, env: { ...env(), ...crashing } });
    const args = { path: join(folder, `${name}.txt`), content: `${name} by the agent` };
    const carol = server.client('carol');
    runs[name] = await startRun(carol, 'file-clerk', `call fs__write_file ${JSON.stringify(args)}`);
    const { request } = await waitForRequest(carol, runs[name], (r) => r.kind === 'approval', 'the approval');
    const answer = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.ok(
      answer.status === 200 || answer.status >= 500 || answer.status === 0,
      JSON.stringify(answer.body),
    );
    const child = server.child;
    await waitFor('the SIGKILL after the write', async () => child.signalCode !== null, {
      timeoutMs: 30_000,
    }).catch(async (error: Error) => {
      const log = await events(carol, runs[name]);
      throw new Error(`${error.message}: ${JSON.stringify(log.slice(-5).map((e) => [e.type, e.data]))}`);
    });
    assert.equal(
      readFileSync(args.path, 'utf8'),
      `${name} by the agent`,
      'the write happened before the crash',
    );
  }

  before(async () => {
    folder = realpathSync(mkdtempSync(join(tmpdir(), 'parley-fs-')));
    dataDir = mkdtempSync(join(tmpdir(), 'parley-e2e-'));
    toolsFile = writeToolsFile({
      mcpServers: { fs: { command: process.execPath, args: [FILESYSTEM_SERVER, folder] } },
    });
    await writeAndCrash('answered');
    await writeAndCrash('again');
    await writeAndCrash('failed');
    server = await ParleyProcess.start({ dataDir, env: env() });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function reconcileOf(name: string): Promise<RequestView> {
    const { request } = await waitForRequest(
      server!.client('carol'),
      runs[name],
      (r) => r.kind === 'reconcile',
      'the reconcile request',
    );
    return request;
  }

  it('each interrupted call waits on a reconcile request about the exact call; nothing is run again', async () => {
    for (const name of ['answered', 'again', 'failed']) {
      const request = await reconcileOf(name);
      assert.equal(request.subject.type, 'tool-call');
      assert.deepEqual(request.decisions, ['answer', 'approve', 'reject']);
      assert.equal(request.payload.tool, 'fs.write_file');
      assert.deepEqual(request.payload.args, {
        path: join(folder, `${name}.txt`),
        content: `${name} by the agent`,
      });
      assert.match(request.payload.idempotencyKey, new RegExp(`^${runs[name]}:`));
      assert.match(request.ask, /may or may not have happened/);
      const log = await events(server!.client('carol'), runs[name]);
      assert.equal(typesOf(log).filter((t) => t === 'tool-call.started').length, 1);
      assert.ok(!typesOf(log).some((t) => t === 'tool-call.completed' || t === 'tool-call.failed'));
    }
  });

  it("answer: the call is completed with the human's result, attributed; the tool is not run again", async () => {
    const path = join(folder, 'answered.txt');
    writeFileSync(path, 'changed by a human since'); // a re-run would overwrite it
    const request = await reconcileOf('answered');
    await decide(server!.client('alice'), request.id, {
      decision: 'answer',
      comment: 'I checked: the file was written',
      payload: { content: [{ type: 'text', text: 'Successfully wrote' }] },
    });
    const carol = server!.client('carol');
    await waitForStatus(carol, runs.answered, 'completed', 30_000);
    assert.equal(readFileSync(path, 'utf8'), 'changed by a human since');
    const log = await events(carol, runs.answered);
    const decision = log.find((e) => e.type === 'human-decision.recorded' && e.data.requestId === request.id);
    assert.equal(decision?.actor.id, 'alice');
    const completed = log.find((e) => e.type === 'tool-call.completed');
    assert.deepEqual(completed?.data, {
      callId: completed?.data.callId,
      result: { content: [{ type: 'text', text: 'Successfully wrote' }] },
      reconciled: true,
      requestId: request.id,
    });
    assert.equal(typesOf(log).filter((t) => t === 'tool-call.started').length, 1);
  });

  it('approve: run again with the same key, and the file is written again', async () => {
    const path = join(folder, 'again.txt');
    rmSync(path);
    const request = await reconcileOf('again');
    await decide(server!.client('alice'), request.id, { decision: 'approve' });
    const carol = server!.client('carol');
    await waitForStatus(carol, runs.again, 'completed', 30_000);
    assert.equal(existsSync(path) && readFileSync(path, 'utf8'), 'again by the agent');
    const log = await events(carol, runs.again);
    assert.equal(
      typesOf(log).filter((t) => t === 'tool-call.started').length,
      2,
      'a second attempt, recorded',
    );
    assert.equal(typesOf(log).filter((t) => t === 'tool-call.completed').length, 1);
  });

  it('reject: the step fails (TOOL.OUTCOME_UNKNOWN) and the agent is told; nothing runs', async () => {
    const path = join(folder, 'failed.txt');
    writeFileSync(path, 'left as it is');
    const request = await reconcileOf('failed');
    await decide(server!.client('bob'), request.id, {
      decision: 'reject',
      comment: 'cannot tell, do it by hand',
    });
    const carol = server!.client('carol');
    await waitForStatus(carol, runs.failed, 'completed', 30_000);
    assert.equal(readFileSync(path, 'utf8'), 'left as it is');
    const failed = (await events(carol, runs.failed)).find((e) => e.type === 'tool-call.failed');
    assert.equal(failed?.data.code, 'TOOL.OUTCOME_UNKNOWN');
    assert.match(failed?.data.message, /failed by a human: cannot tell, do it by hand/);
    assert.equal(failed?.data.requestId, request.id);
  });
});
