import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { WorkflowSchema, modelToolName } from '@parley/contracts';
import { ToolRegistry } from '@parley/engine';
import { z } from 'zod';
import { trustOf } from './mcp/mcp-tool';
import { parseToolsFile, ToolsFileError } from './tools-file/read-tools-file';
import type { ToolOrigins } from './tool-sources';
import { resolveWorkflowTools, toolRefProblem } from '../workflows/workflow-tools';
import { applyModelDefaults } from '../workflows/workflow-models';

const tool = (name: string, annotations?: Tool['annotations']): Tool => ({
  name,
  inputSchema: { type: 'object' },
  ...(annotations ? { annotations } : {}),
});

describe('tools from outside: names, trust, default gates', () => {
  it('the model is given names providers accept; plain names stay as they are', () => {
    assert.equal(modelToolName('process_refund'), 'process_refund');
    assert.equal(modelToolName('fs.read_text_file'), 'fs__read_text_file');
    assert.equal(modelToolName('everything.get-sum'), 'everything__get-sum');
    assert.equal(modelToolName('files.a/b c'), 'files__a_b_c');
    const long = modelToolName(`srv.${'x'.repeat(100)}`);
    assert.match(long, /^[a-zA-Z0-9_-]{1,64}$/);
    assert.notEqual(long, modelToolName(`srv.${'x'.repeat(101)}`), 'a hash keeps long names apart');
  });

  it('two tools with the same model name are refused at registration', () => {
    const registry = new ToolRegistry();
    const t = (name: string) => ({
      name,
      description: 'd',
      args: z.object({}),
      execute: () => ({ result: 1 }),
    });
    registry.register(t('a__b'));
    assert.throws(() => registry.register(t('a.b')), /tools a__b and a\.b have the same model name "a__b"/);
  });

  it("an untrusted server's annotations are not believed: every tool gated, none idempotent", () => {
    for (const a of [undefined, { readOnlyHint: true }, { destructiveHint: false }])
      assert.deepEqual(trustOf(tool('t', a), false), { gated: true, idempotent: false });
  });

  it("a trusted server: destructiveHint (the spec's default) gates, readOnlyHint does not and may be re-run", () => {
    assert.deepEqual(trustOf(tool('read', { readOnlyHint: true }), true), { gated: false, idempotent: true });
    assert.deepEqual(trustOf(tool('write', { destructiveHint: true }), true), {
      gated: true,
      idempotent: false,
    });
    assert.deepEqual(trustOf(tool('unsaid'), true), { gated: true, idempotent: false });
    assert.deepEqual(trustOf(tool('add', { readOnlyHint: false, destructiveHint: false }), true), {
      gated: false,
      idempotent: false,
    });
  });

  const registry = new ToolRegistry();
  for (const name of ['fs.read', 'fs.write', 'lookup'])
    registry.register({ name, description: 'd', args: z.object({}), execute: () => ({ result: 1 }) });
  const origins = (up = true): ToolOrigins => ({
    servers: new Map([
      ['fs', up ? { up: true, tools: ['fs.read', 'fs.write'] } : { up: false, reason: 'spawn ENOENT' }],
    ]),
    gatedByDefault: (t) => t.startsWith('fs.'),
    providers: {},
  });
  const workflow = (policies: Record<string, unknown> = {}) =>
    WorkflowSchema.parse({
      name: 'w',
      pattern: 'single-agent',
      agent: 'a',
      agents: [{ name: 'a', system: 's', tools: ['fs.*', 'lookup'] }],
      policies: { approvals: [{ tool: 'fs.write', when: 'path == "x"', roles: ['manager'] }], ...policies },
    });

  it("a run's workflow: wildcards expanded, a default approval after the workflow's own, ungated ones waived", () => {
    const resolved = resolveWorkflowTools(workflow({ ungated: ['fs.read'] }), registry, origins());
    assert.deepEqual(resolved.agents[0].tools, ['fs.read', 'fs.write', 'lookup']);
    assert.deepEqual(
      resolved.policies.approvals.map((r) => [r.tool, r.when, r.roles]),
      [
        ['fs.write', 'path == "x"', ['manager']],
        ['fs.write', undefined, ['approver']],
      ],
    );
    const all = resolveWorkflowTools(workflow(), registry, origins());
    assert.deepEqual(
      all.policies.approvals.slice(1).map((r) => r.tool),
      ['fs.read', 'fs.write'],
    );
  });

  it('a workflow that needs a server that did not start refuses runs: 503 TOOLS.SERVER_UNAVAILABLE', () => {
    assert.throws(
      () => resolveWorkflowTools(workflow(), registry, origins(false)),
      (e: Error & { code?: string; kind?: string }) =>
        e.code === 'TOOLS.SERVER_UNAVAILABLE' &&
        e.kind === 'unavailable' &&
        /MCP server "fs", which did not start: spawn ENOENT/.test(e.message),
    );
  });

  it('unknown tools and servers are named', () => {
    assert.equal(toolRefProblem('fs.read', registry, origins()), undefined);
    assert.match(
      toolRefProblem('fs.nope', registry, origins())!,
      /MCP server "fs" has no tool "nope" \(its tools: fs\.read, fs\.write\)/,
    );
    assert.match(toolRefProblem('db.*', registry, origins())!, /no MCP server named "db" in the tools file/);
    assert.equal(toolRefProblem('fs.nope', registry, origins(false)), undefined, 'checked when a run starts');
    assert.match(toolRefProblem('nope', registry, origins())!, /no tool named "nope"/);
  });

  it('PARLEY_MODEL and named providers: the agents that name none get them; an unknown provider is named', () => {
    const providers = { fast: { baseURL: 'http://127.0.0.1:1/v1', apiKeyEnv: 'FAST_KEY', model: 'small-1' } };
    const raw = {
      name: 'w',
      agents: [
        { name: 'a', system: 's' },
        { name: 'b', system: 's', provider: 'fast' },
        { name: 'c', system: 's', model: 'own' },
      ],
    };
    const out = applyModelDefaults(raw, { defaultModel: 'gpt-x', providers }) as {
      raw: { agents: unknown[] };
    };
    assert.deepEqual(out.raw.agents, [
      { name: 'a', system: 's', model: 'gpt-x' },
      {
        name: 'b',
        system: 's',
        provider: { baseURL: 'http://127.0.0.1:1/v1', apiKeyEnv: 'FAST_KEY' },
        model: 'small-1',
      },
      { name: 'c', system: 's', model: 'own' },
    ]);
    assert.deepEqual(applyModelDefaults({ agents: [{ provider: 'slow' }] }, { providers }), {
      problem: ['agents.0.provider', 'no provider named "slow" in the tools file (providers: fast)'],
    });
    const plain = { name: 'w', agents: [{ name: 'a', system: 's' }] };
    assert.deepEqual(
      applyModelDefaults(plain, {}),
      { raw: plain },
      'nothing set: unchanged (the schema says offline)',
    );
  });

  it('a tools file error names the file and the field path', () => {
    const bad = (text: string) => () => parseToolsFile('t.yaml', text);
    assert.throws(bad('mcpServers:\n  fs: {command: 1}\n'), (e: ToolsFileError) =>
      /t\.yaml: mcpServers\.fs/.test(e.message),
    );
    assert.throws(
      bad('http:\n  - {name: x, description: d, url: "http://a", timeout: soon}\n'),
      /t\.yaml: http\.0\.timeout: expected a duration/,
    );
    assert.throws(bad('extra: 1\n'), /t\.yaml: extra: /);
    assert.throws(
      bad('providers:\n  p: {baseURL: "ftp://x"}\n'),
      /t\.yaml: providers\.p\.baseURL: expected an http\(s\) URL/,
    );
    assert.deepEqual(parseToolsFile('t.json', '{"modules": ["./m.js"]}').modules, ['./m.js']);
  });
});
