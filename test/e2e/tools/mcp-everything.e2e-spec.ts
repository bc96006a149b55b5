import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, waitFor } from '@parley/testing';
import { events, startRun, typesOf, waitForStatus, type Envelope } from '../patterns/helpers';
import { startEverythingServer, writeToolsFile } from './tools-kit';

/**
 * The reference MCP server (@modelcontextprotocol/server-everything) over Streamable HTTP, marked
 * trusted: its read-only tools run with no approval (their annotations are believed), a call is
 * answered by the real server, and an error result is recorded as the call's tool error.
 */
describe('MCP over Streamable HTTP: @modelcontextprotocol/server-everything', () => {
  let server: ParleyProcess;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  before(async () => {
    everything = await startEverythingServer();
    const toolsFile = writeToolsFile({
      modules: [join(REPO_ROOT, 'dist/apps/server/src/tools/example-tools.js')],
      mcpServers: { everything: { url: everything.url, trusted: true } },
    });
    server = await ParleyProcess.start({
      env: { PARLEY_TOOLS_FILE: toolsFile, PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'test/fixtures/tools-mcp') },
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await everything?.stop();
  });

  it('lists its tools at start-up', () => {
    const line = server.output.join('').match(/MCP server "everything" \(trusted\): (\d+) tools \(([^)]*)\)/);
    assert.ok(line, server.output.join(''));
    const names = line[2].split(', ');
    for (const tool of ['everything.echo', 'everything.get-sum', 'everything.get-resource-reference'])
      assert.ok(names.includes(tool), line[2]);
  });

  it('a call is answered by the server (read-only on a trusted server: no approval)', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'everything-desk', 'call everything__get-sum {"a": 2, "b": 40}');
    await waitForStatus(carol, runId, 'completed', 30_000);
    const log = await events(carol, runId);
    assert.ok(!typesOf(log).includes('human-request.opened'), typesOf(log).join(', '));
    assert.equal(log.find((e) => e.type === 'tool-call.requested')?.data.tool, 'everything.get-sum');
    assert.equal(
      log.find((e) => e.type === 'tool-call.completed')?.data.result,
      'The sum of 2 and 40 is 42.',
    );
  });

  it("an error result is recorded as the call's tool error", async () => {
    const carol = server.client('carol');
    const runId = await startRun(
      carol,
      'everything-desk',
      'call everything__get-resource-reference {"resourceType": "Text", "resourceId": 0}',
    );
    await waitForStatus(carol, runId, 'completed', 30_000);
    const log = await events(carol, runId);
    const failed = log.find((e) => e.type === 'tool-call.failed');
    assert.ok(failed, typesOf(log).join(', '));
    assert.equal(failed.data.code, 'TOOL.MCP_ERROR');
    assert.match(failed.data.message, /^everything\.get-resource-reference: .*Invalid resourceId: 0/);
    assert.ok(!typesOf(log).includes('tool-call.completed'));
  });

  // Last: it stops and restarts the MCP server.
  it('a restarted server is reconnected: the call while it is gone fails, the next ones work again', async () => {
    const carol = server.client('carol');
    const sum = async (): Promise<Envelope | undefined> => {
      const runId = await startRun(carol, 'everything-desk', 'call everything__get-sum {"a": 1, "b": 2}');
      await waitForStatus(carol, runId, 'completed', 30_000);
      return (await events(carol, runId)).find(
        (e) => e.type === 'tool-call.completed' || e.type === 'tool-call.failed',
      );
    };
    await everything.stop();
    const gone = await sum();
    assert.equal(gone?.type, 'tool-call.failed');
    assert.equal(gone?.data.code, 'TOOL.MCP_FAILED', JSON.stringify(gone?.data));
    await waitFor('Parley to say the server stopped answering', () =>
      /MCP server "everything" stopped answering: .*ECONNREFUSED.*; reconnecting/.test(
        server.output.join(''),
      ),
    );
    everything = await startEverythingServer(everything.port); // a new process: the old session is gone
    await waitFor(
      'the server to be back',
      () => /MCP server "everything" is back: \d+ tools/.test(server.output.join('')),
      { timeoutMs: 40_000 },
    );
    const back = await sum();
    assert.equal(back?.type, 'tool-call.completed', JSON.stringify(back?.data));
    assert.equal(back?.data.result, 'The sum of 1 and 2 is 3.');

    // Restarted between two calls: the new process does not know the session (400 or 404), so Parley opens a new one.
    await everything.stop();
    everything = await startEverythingServer(everything.port);
    const unknownSession = await sum();
    assert.equal(unknownSession?.type, 'tool-call.failed');
    assert.match(String(unknownSession?.data.message), /404|session/i, JSON.stringify(unknownSession?.data));
    await waitFor(
      'the server to be back once more',
      () => (server.output.join('').match(/MCP server "everything" is back/g) ?? []).length === 2,
      { timeoutMs: 40_000 },
    );
    const backAgain = await sum();
    assert.equal(backAgain?.type, 'tool-call.completed', JSON.stringify(backAgain?.data));
  });
});
