import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT } from '@parley/testing';
import { decide, events, startRun, waitForRequest, waitForStatus, typesOf } from '../patterns/helpers';
import { FILESYSTEM_SERVER, writeToolsFile } from './tools-kit';

/**
 * The shipped example workflow (examples/filesystem) against the real filesystem MCP server over
 * stdio, untrusted: its reads are waived by the workflow and run at once, every write waits for an
 * approval of the exact call (server, tool, arguments) and only then touches the folder. The offline
 * model calls `call <tool> {json}` from the request as it is written, under the model's tool name.
 */
describe('MCP over stdio: @modelcontextprotocol/server-filesystem', () => {
  let server: ParleyProcess;
  let folder: string;
  before(async () => {
    folder = realpathSync(mkdtempSync(join(tmpdir(), 'parley-fs-')));
    writeFileSync(join(folder, 'notes.txt'), 'Standup moved to 10:00.');
    const toolsFile = writeToolsFile({
      mcpServers: { fs: { command: process.execPath, args: [FILESYSTEM_SERVER, folder] } },
    });
    server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'filesystem', 'workflows'),
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("lists the server's tools at start-up, as <server>.<tool>", () => {
    const line = server.output.join('').match(/MCP server "fs": (\d+) tools \(([^)]*)\)/);
    assert.ok(line, server.output.join(''));
    assert.ok(Number(line[1]) >= 10, line[0]);
    for (const tool of ['fs.read_text_file', 'fs.write_file', 'fs.list_directory'])
      assert.ok(line[2].split(', ').includes(tool), line[2]);
  });

  it('a read runs at once: no request, the result is the file', async () => {
    const carol = server.client('carol');
    const path = join(folder, 'notes.txt');
    const runId = await startRun(
      carol,
      'file-clerk',
      `Please call fs__read_text_file {"path": ${JSON.stringify(path)}}`,
    );
    await waitForStatus(carol, runId, 'completed', 30_000);
    const log = await events(carol, runId);
    assert.ok(!typesOf(log).includes('human-request.opened'), typesOf(log).join(', '));
    const requested = log.find((e) => e.type === 'tool-call.requested');
    assert.equal(requested?.data.tool, 'fs.read_text_file', 'the log names the tool as the workflow does');
    assert.deepEqual(requested?.data.args, { path });
    const completed = log.find((e) => e.type === 'tool-call.completed');
    // the server's structured content
    assert.deepEqual(completed?.data.result, { content: 'Standup moved to 10:00.' });
  });

  it('a write waits for an approval of the exact call, then the file is really written', async () => {
    const carol = server.client('carol');
    const path = join(folder, 'agenda.txt');
    const args = { path, content: 'Agenda: budget, hiring.' };
    const runId = await startRun(carol, 'file-clerk', `call fs__write_file ${JSON.stringify(args)}`);
    const { request } = await waitForRequest(carol, runId, (r) => r.kind === 'approval', 'the approval');
    assert.equal(request.subject.type, 'tool-call');
    assert.deepEqual(request.payload, { tool: 'fs.write_file', args });
    assert.deepEqual(request.roles, ['approver']);
    assert.equal(existsSync(path), false, 'nothing is written before the approval');

    await decide(server.client('alice'), request.id, { decision: 'approve' });
    await waitForStatus(carol, runId, 'completed', 30_000);
    assert.equal(readFileSync(path, 'utf8'), 'Agenda: budget, hiring.');
    const log = await events(carol, runId);
    assert.equal(log.filter((e) => e.type === 'tool-call.completed').length, 1);
    assert.equal(log.filter((e) => e.type === 'tool-call.started').length, 1);
  });

  it('a rejected write leaves the folder unchanged', async () => {
    const carol = server.client('carol');
    const before = readdirSync(folder).sort();
    const notes = readFileSync(join(folder, 'notes.txt'), 'utf8');
    const args = { path: join(folder, 'notes.txt'), content: 'overwritten' };
    const runId = await startRun(carol, 'file-clerk', `call fs__write_file ${JSON.stringify(args)}`);
    const { request } = await waitForRequest(carol, runId, (r) => r.kind === 'approval', 'the approval');
    await decide(server.client('alice'), request.id, { decision: 'reject', comment: 'keep the notes' });
    await waitForStatus(carol, runId, 'completed', 30_000);
    assert.deepEqual(readdirSync(folder).sort(), before);
    assert.equal(readFileSync(join(folder, 'notes.txt'), 'utf8'), notes);
    const log = await events(carol, runId);
    assert.ok(!typesOf(log).includes('tool-call.started'), 'a rejected call never starts');
    assert.match(
      log.find((e) => e.type === 'tool-call.rejected')?.data.reason,
      /rejected by a human: keep the notes/,
    );
  });
});
