import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT } from '@parley/testing';
import { events, startRun, typesOf, waitForStatus } from '../patterns/helpers';
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
});
