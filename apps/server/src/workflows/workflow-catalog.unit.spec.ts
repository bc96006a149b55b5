import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ToolRegistry } from '@parley/engine';
import { REPO_ROOT } from '@parley/testing';
import { WorkflowFileError, parseWorkflowFile } from './workflow-catalog';

const tools = new ToolRegistry().register({
  name: 'process_refund',
  description: 'Refund an order',
  args: z.object({ order_id: z.string(), amount: z.number() }),
  execute: () => ({ result: { ok: true } }),
});

/** Parse `text` as `<name>.yaml`; the refusal it gives, or undefined when it loads. */
function refusal(name: string, text: string): WorkflowFileError | undefined {
  try {
    parseWorkflowFile(`${name}.yaml`, text, tools);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof WorkflowFileError, String(error));
    return error;
  }
}

const agent = (name: string, tools?: string[]) =>
  `  - name: ${name}\n    system: You are the ${name}.\n${tools ? `    tools: [${tools.join(', ')}]\n` : ''}`;

describe('workflow files: tools are refused where no agent can use them', () => {
  it('tools on the agents that speak load in every pattern', () => {
    const files: Record<string, string> = {
      seq: `name: seq\npattern: sequential\nstages: [{agent: a}, {agent: b}]\nagents:\n${agent('a', ['process_refund'])}${agent('b', ['process_refund'])}`,
      conc: `name: conc\npattern: concurrent\nworkers: [a, b]\naggregator: c\nagents:\n${agent('a', ['process_refund'])}${agent('b')}${agent('c', ['process_refund'])}`,
      chat: `name: chat\npattern: group-chat\nparticipants: [a, b]\nagents:\n${agent('a', ['process_refund'])}${agent('b')}`,
      mag: `name: mag\npattern: magentic\nmanager: m\nspecialists: [a]\nagents:\n${agent('m')}${agent('a', ['process_refund'])}`,
      mc: `name: mc\npattern: maker-checker\nmaker: a\nchecker: c\nagents:\n${agent('a', ['process_refund'])}${agent('c')}`,
    };
    for (const [name, text] of Object.entries(files)) assert.equal(refusal(name, text), undefined, name);
  });

  it('a magentic manager with tools is refused, naming the file and the field', () => {
    const error = refusal(
      'mag',
      `name: mag\npattern: magentic\nmanager: m\nspecialists: [a]\nagents:\n${agent('a')}${agent('m', ['process_refund'])}`,
    );
    assert.equal(error?.code, 'WORKFLOW.INVALID');
    assert.equal(error?.field, 'agents.1.tools.0');
    assert.match(
      error!.message,
      /^mag\.yaml: agents\.1\.tools\.0: "m" cannot use tools in a magentic workflow: it is the manager/,
    );
  });

  it('a group-chat manager, an agent checker and an agent that never speaks are refused too', () => {
    const chat = refusal(
      'chat',
      `name: chat\npattern: group-chat\nselection: manager\nmanager: m\nparticipants: [a, b]\nagents:\n${agent('a')}${agent('b')}${agent('m', ['process_refund'])}`,
    );
    assert.equal(chat?.field, 'agents.2.tools.0');
    assert.match(chat!.message, /group-chat workflow: it is the manager/);
    const checker = refusal(
      'mc',
      `name: mc\npattern: maker-checker\nmaker: a\nchecker: c\nagents:\n${agent('a')}${agent('c', ['process_refund'])}`,
    );
    assert.equal(checker?.field, 'agents.1.tools.0');
    assert.match(checker!.message, /it is the checker/);
    const idle = refusal(
      'seq',
      `name: seq\npattern: sequential\nstages: [{agent: a}]\nagents:\n${agent('a')}${agent('idle', ['process_refund'])}`,
    );
    assert.equal(idle?.field, 'agents.1.tools.0');
    assert.match(
      idle!.message,
      /"idle" cannot use tools .* it never speaks in this workflow; only a call tools here/,
    );
  });

  it('a tool that is not registered is refused with its path', () => {
    const error = refusal(
      'seq',
      `name: seq\npattern: sequential\nstages: [{agent: a}]\nagents:\n${agent('a', ['process_refund', 'wire_money'])}`,
    );
    assert.equal(error?.field, 'agents.0.tools.1');
    assert.match(error!.message, /^seq\.yaml: agents\.0\.tools\.1: no tool named "wire_money"/);
  });

  it('a tool named in policies.ungated that is not registered is refused with its path (a typo would keep the gate)', () => {
    const error = refusal(
      'seq',
      `name: seq\npattern: sequential\nstages: [{agent: a}]\npolicies: {ungated: [process_refund, procces_refund]}\nagents:\n${agent('a', ['process_refund'])}`,
    );
    assert.equal(error?.field, 'policies.ungated.1');
    assert.match(error!.message, /no tool named "procces_refund"/);
  });

  it('every shipped workflow and fixture still loads', () => {
    const registry = new ToolRegistry();
    for (const name of ['process_refund', 'lookup_order', 'refund_history'])
      registry.register({ name, description: name, args: z.object({}), execute: () => ({ result: null }) });
    for (const dir of [
      join(REPO_ROOT, 'workflows'),
      join(REPO_ROOT, 'test', 'fixtures', 'workflows'),
      join(REPO_ROOT, 'test', 'fixtures', 'tool-patterns'),
    ]) {
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')))
        parseWorkflowFile(file, readFileSync(join(dir, file), 'utf8'), registry);
    }
  });
});
