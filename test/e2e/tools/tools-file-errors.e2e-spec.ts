import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT } from '@parley/testing';
import { assertError, startRun, waitForStatus } from '../patterns/helpers';
import { FILESYSTEM_SERVER, writeToolsFile } from './tools-kit';

const EXAMPLE_MODULE = join(REPO_ROOT, 'dist/apps/server/src/tools/example-tools.js');
const FIXTURES = join(REPO_ROOT, 'test/fixtures/tools-mcp');

/** Bad tools, each a clear error naming the thing; nothing else breaks. */
describe('tools file, tool names and MCP servers that are wrong', () => {
  it('a bad tools file stops the server with one line naming the file and the field', async () => {
    const file = writeToolsFile({ mcpServers: { fs: { command: 'node', args: 'not-a-list' } } });
    await assert.rejects(ParleyProcess.start({ env: { PARLEY_TOOLS_FILE: file } }), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: mcpServers\\.fs`),
      );
      assert.match(error.message, /TOOLS\.INVALID|parley: cannot start/);
      return true;
    });
  });

  it('a header that reads an unset variable names the field, never a value', async () => {
    const file = writeToolsFile({
      http: [
        {
          name: 'tickets',
          description: 'Open a ticket',
          url: 'http://127.0.0.1:9/tickets',
          headers: { authorization: 'Bearer ${env:PARLEY_TEST_UNSET_TOKEN}' },
        },
      ],
    });
    await assert.rejects(ParleyProcess.start({ env: { PARLEY_TOOLS_FILE: file } }), (error: Error) => {
      assert.match(
        error.message,
        /http\.0\.headers\.authorization: the environment variable PARLEY_TEST_UNSET_TOKEN is not set/,
      );
      return true;
    });
  });

  it('an unknown <server>.<tool> in a workflow stops the server naming the workflow, the field and the tool', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'parley-fs-'));
    const workflows = mkdtempSync(join(tmpdir(), 'parley-wf-'));
    writeFileSync(
      join(workflows, 'bad-clerk.yaml'),
      'name: bad-clerk\npattern: single-agent\nagent: clerk\nagents:\n  - name: clerk\n    system: x\n    tools: [fs.read_text_file, fs.shred_everything]\n',
    );
    const file = writeToolsFile({
      mcpServers: { fs: { command: process.execPath, args: [FILESYSTEM_SERVER, folder] } },
    });
    await assert.rejects(
      ParleyProcess.start({ env: { PARLEY_TOOLS_FILE: file, PARLEY_WORKFLOWS_DIR: workflows } }),
      (error: Error) => {
        assert.match(
          error.message,
          /bad-clerk\.yaml: agents\.0\.tools\.1: MCP server "fs" has no tool "shred_everything"/,
        );
        return true;
      },
    );
  });

  it('an MCP server that does not start: a line naming it, its workflows refuse runs (503), the others work', async () => {
    const workflows = mkdtempSync(join(tmpdir(), 'parley-wf-'));
    cpSync(join(FIXTURES, 'refund-desk-lite.yaml'), join(workflows, 'refund-desk-lite.yaml'));
    writeFileSync(
      join(workflows, 'broken-desk.yaml'),
      'name: broken-desk\npattern: single-agent\nagent: clerk\nagents:\n  - name: clerk\n    system: x\n    tools: [broken.*]\n',
    );
    const file = writeToolsFile({
      modules: [EXAMPLE_MODULE],
      mcpServers: {
        broken: { command: process.execPath, args: ['/nonexistent/mcp-server.js'], startTimeout: '10s' },
      },
    });
    const server = await ParleyProcess.start({
      env: { PARLEY_TOOLS_FILE: file, PARLEY_WORKFLOWS_DIR: workflows },
    });
    try {
      assert.match(
        server.output.join(''),
        /MCP server "broken" \(.*node.*\) did not start: .*; workflows that use it cannot start runs/,
      );
      const carol = server.client('carol');
      const refused = await carol.post('/api/runs', { workflow: 'broken-desk', input: 'hello' });
      assertError(refused, 503, 'TOOLS.SERVER_UNAVAILABLE');
      assert.match(refused.body.error.message, /needs MCP server "broken", which did not start/);
      const runId = await startRun(carol, 'refund-desk-lite', 'Please look up order #A12');
      await waitForStatus(carol, runId, 'completed', 30_000);
    } finally {
      await server.dispose();
    }
  });
});
