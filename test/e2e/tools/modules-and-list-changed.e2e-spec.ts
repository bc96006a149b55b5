import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, waitFor } from '@parley/testing';
import { events, startRun, typesOf, waitForStatus } from '../patterns/helpers';
import { writeToolsFile } from './tools-kit';

/**
 * A tools module written in plain JavaScript with `@parley/tools-sdk` (its coded failures recorded as
 * tool errors), and an MCP server (the SDK's own McpServer) whose tools change: Parley lists them
 * again when told, and the next run of a `<server>.*` agent has the new one.
 */
describe('tool modules, and MCP servers whose tools change', () => {
  let server: ParleyProcess;
  before(async () => {
    const toolsFile = writeToolsFile({
      modules: [join(REPO_ROOT, 'test/fixtures/tools-modules/shout.js')],
      mcpServers: {
        unlock: {
          command: process.execPath,
          args: [join(REPO_ROOT, 'test/fixtures/tools-servers/unlock-server.mjs')],
        },
      },
    });
    server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'test/fixtures/tools-extra'),
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('a defineTool module tool runs with its idempotency key', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'shout-desk', 'call shout {"text": "hello"}');
    await waitForStatus(carol, runId, 'completed', 30_000);
    const log = await events(carol, runId);
    const key = log.find((e) => e.type === 'tool-call.requested')?.data.idempotencyKey;
    assert.deepEqual(log.find((e) => e.type === 'tool-call.completed')?.data.result, { text: 'HELLO', key });
  });

  it("a module tool's ToolFailure is the call's coded error", async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'shout-desk', 'call shout {"text": "  "}');
    await waitForStatus(carol, runId, 'completed', 30_000);
    const failed = (await events(carol, runId)).find((e) => e.type === 'tool-call.failed');
    assert.equal(failed?.data.code, 'SHOUT.EMPTY');
    assert.equal(failed?.data.message, 'nothing to shout');
  });

  it('tools/list_changed: the tools are listed again, and the next run has the new one', async () => {
    const carol = server.client('carol');
    assert.match(server.output.join(''), /MCP server "unlock": 1 tools \(unlock\.unlock\)/);
    const first = await startRun(carol, 'unlock-desk', 'call unlock__unlock {}');
    await waitForStatus(carol, first, 'completed', 30_000);
    await waitFor('the tools to be listed again', async () =>
      /MCP server "unlock" changed its tools: 2 now/.test(server.output.join('')),
    );
    const second = await startRun(carol, 'unlock-desk', 'call unlock__secret {"who": "carol"}');
    await waitForStatus(carol, second, 'completed', 30_000);
    const log = await events(carol, second);
    assert.ok(!typesOf(log).includes('tool-call.rejected'), typesOf(log).join(', '));
    assert.equal(log.find((e) => e.type === 'tool-call.completed')?.data.result, 'the secret, for carol');
    const started = log.find((e) => e.type === 'run.started');
    assert.deepEqual(started?.data.workflow.agents[0].tools, ['unlock.unlock', 'unlock.secret']);
  });
});
