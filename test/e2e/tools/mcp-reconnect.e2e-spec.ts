import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, waitFor } from '@parley/testing';
import { events, startRun, waitForStatus, type Envelope } from '../patterns/helpers';
import { writeToolsFile } from './tools-kit';

const outcomeOf = (log: Envelope[]) =>
  log.find((e) => e.type === 'tool-call.completed' || e.type === 'tool-call.failed');

/**
 * An MCP server over stdio that crashes (its process exits mid-call) is reconnected by itself: the
 * call under way fails (not repeated: whether the server acted is unknown), calls while it is down
 * fail at once saying why, a restart that fails is tried again with a growing wait, and once the
 * server is back its tools answer again, from a new process, with no restart of Parley.
 */
describe('an MCP server that crashes is reconnected', () => {
  let server: ParleyProcess;
  const dir = mkdtempSync(join(tmpdir(), 'parley-mcp-reconnect-'));
  const hold = join(dir, 'hold');
  before(async () => {
    const toolsFile = writeToolsFile({
      mcpServers: {
        crashy: {
          command: process.execPath,
          args: [join(REPO_ROOT, 'test/fixtures/tools-servers/crash-server.mjs')],
          env: { CRASH_SERVER_HOLD: hold },
        },
      },
    });
    server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'test/fixtures/tools-reconnect'),
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(tool: string): Promise<Envelope> {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'crashy-desk', `call crashy__${tool} {}`);
    await waitForStatus(carol, runId, 'completed', 30_000);
    const outcome = outcomeOf(await events(carol, runId));
    assert.ok(outcome, `run ${runId} has no outcome of its tool call`);
    return outcome;
  }

  it('crashes, stays down while its restart fails, then answers again from a new process', async () => {
    const first = await call('pid');
    assert.equal(first.type, 'tool-call.completed', JSON.stringify(first.data));
    const firstPid = Number(first.data.result);
    assert.ok(firstPid > 0);

    writeFileSync(hold, 'the restart fails while this file exists');
    const crashed = await call('crash');
    assert.equal(crashed.type, 'tool-call.failed');
    assert.equal(crashed.data.code, 'TOOL.MCP_FAILED', JSON.stringify(crashed.data));
    assert.throws(() => process.kill(firstPid, 0), 'the crashed server process is gone');
    await waitFor('Parley to say the server stopped answering', () =>
      /MCP server "crashy" stopped answering: the connection closed \(its stderr: crashing on purpose\); reconnecting/.test(
        server.output.join(''),
      ),
    );
    await waitFor('a reconnect attempt to fail', () =>
      /MCP server "crashy": reconnecting failed/.test(server.output.join('')),
    );

    const down = await call('pid');
    assert.equal(down.type, 'tool-call.failed');
    assert.equal(down.data.code, 'TOOL.MCP_UNAVAILABLE', JSON.stringify(down.data));
    assert.match(
      down.data.message as string,
      /MCP server crashy is not answering \(the connection closed .*reconnecting failed \d+ time\(s\)/,
    );

    rmSync(hold);
    assert.ok(!existsSync(hold));
    await waitFor(
      'the server to be back',
      () => /MCP server "crashy" is back: 2 tools/.test(server.output.join('')),
      { timeoutMs: 20_000 },
    );
    const again = await call('pid');
    assert.equal(again.type, 'tool-call.completed', JSON.stringify(again.data));
    const againPid = Number(again.data.result);
    assert.ok(againPid > 0 && againPid !== firstPid, `a new process (${firstPid} → ${againPid})`);
  });
});
