import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { inputJsonSchema } from '@parley/contracts';
import { planSchema } from '../../libs/engine/src/patterns/magentic/magentic.decider';
import { diffValues } from '../../apps/console/src/inbox/diff';
import {
  editableValue,
  inferSchema,
  kindOf,
  newItem,
  problems,
  type JsonSchema,
} from '../../apps/console/src/inbox/json-schema';

/**
 * The inbox's edit form (apps/console/src/inbox/): which control each field gets, what is wrong with
 * an edit before it is sent, and the diff against the proposal, on the JSON Schemas the server really
 * sends (`inputJsonSchema` of the engine's own edit schemas, as hitl/edits.ts and the tool registry do).
 */
const serverSchema = (schema: z.ZodType): JsonSchema => inputJsonSchema(schema) as JsonSchema;

const PLAN = serverSchema(planSchema(['investigator', 'communicator', 'remediator']));
const PROPOSED_PLAN = {
  facts: 'Checkout returns 502 since 14:05.',
  steps: [
    { agent: 'investigator', task: 'Find the cause of the 502s' },
    { agent: 'communicator', task: 'Draft the status update' },
  ],
};

describe('the edit form of a magentic plan (a list of objects)', () => {
  it('edits the steps item by item: a list of objects, each agent a choice, each task text', () => {
    assert.equal(kindOf(PLAN), 'object');
    const steps = PLAN.properties!.steps;
    assert.equal(kindOf(steps), 'list', 'steps are a list edited item by item, not a JSON box');
    assert.equal(kindOf(steps.items!), 'object');
    assert.equal(kindOf(steps.items!.properties!.agent), 'enum');
    assert.deepEqual(steps.items!.properties!.agent.enum, ['investigator', 'communicator', 'remediator']);
    assert.equal(kindOf(steps.items!.properties!.task), 'string');
    assert.deepEqual(editableValue(PLAN, PROPOSED_PLAN), PROPOSED_PLAN);
  });

  it('names the item and field that are wrong, counted from 1, and the list bound', () => {
    assert.deepEqual(problems(PLAN, PROPOSED_PLAN), []);
    const added = {
      ...PROPOSED_PLAN,
      steps: [...PROPOSED_PLAN.steps, newItem(PLAN.properties!.steps.items!)],
    };
    assert.deepEqual(newItem(PLAN.properties!.steps.items!), {}, 'a new step has nothing chosen yet');
    assert.deepEqual(problems(PLAN, added), ['steps #3.agent is required.', 'steps #3.task is required.']);
    assert.deepEqual(problems(PLAN, { ...PROPOSED_PLAN, steps: [] }), ['steps needs at least one item.']);
    const bounded: JsonSchema = { type: 'array', maxItems: 2, items: { type: 'integer', minimum: 1 } };
    assert.equal(kindOf(bounded), 'list');
    assert.deepEqual(problems(bounded, [1, 2, 3]), ['the payload takes at most 2 items.']);
    assert.deepEqual(problems(bounded, [1, 0]), ['the payload #2 must be at least 1.']);
  });

  it('diffs a list by position: a changed field of one step, an added step, a removed step', () => {
    const edited = {
      facts: PROPOSED_PLAN.facts,
      steps: [
        { agent: 'investigator', task: 'Find the cause of the 502s in the load balancer logs' },
        { agent: 'communicator', task: 'Draft the status update' },
        { agent: 'remediator', task: 'Roll back the deploy of 14:00' },
      ],
    };
    assert.deepEqual(diffValues(PROPOSED_PLAN, edited), [
      {
        path: 'steps #1.task',
        before: 'Find the cause of the 502s',
        after: 'Find the cause of the 502s in the load balancer logs',
      },
      {
        path: 'steps #3',
        before: undefined,
        after: { agent: 'remediator', task: 'Roll back the deploy of 14:00' },
      },
    ]);
    const removed = { ...PROPOSED_PLAN, steps: [PROPOSED_PLAN.steps[1]] };
    assert.deepEqual(
      diffValues(PROPOSED_PLAN, removed).map((c) => c.path),
      ['steps #1.agent', 'steps #1.task', 'steps #2'],
      'removing the first step shifts the second into its place',
    );
    assert.deepEqual(diffValues(PROPOSED_PLAN, structuredClone(PROPOSED_PLAN)), [], 'no change, no row');
  });
});

describe('the edit form of a tool call and of bare proposals', () => {
  const REFUND = serverSchema(
    z.object({
      args: z.object({
        order_id: z.string().min(1),
        amount: z.number().positive().describe('amount in USD'),
        reason: z.string().optional(),
        notify: z.boolean().default(true),
      }),
    }),
  );

  it('gives each argument its control and checks the bounds the server checks', () => {
    const args = REFUND.properties!.args;
    assert.deepEqual(Object.fromEntries(Object.entries(args.properties!).map(([k, s]) => [k, kindOf(s)])), {
      order_id: 'string',
      amount: 'number',
      reason: 'string',
      notify: 'boolean',
    });
    assert.deepEqual(
      editableValue(REFUND, { tool: 'process_refund', args: { order_id: 'A1', amount: 160 } }),
      { args: { order_id: 'A1', amount: 160 } },
      'the tool name is not editable: only the arguments',
    );
    assert.deepEqual(problems(REFUND, { args: { order_id: 'A1', amount: -5 } }), [
      'args.amount must be more than 0.',
    ]);
    assert.deepEqual(problems(REFUND, { args: { amount: 5 } }), ['args.order_id is required.']);
  });

  it('infers a form for a proposal that comes without a schema, lists of objects included', () => {
    const inferred = inferSchema({
      summary: 'Two findings',
      tags: ['db', 'deploy'],
      findings: [
        { title: 'Pool exhausted', severity: 2 },
        { title: 'Deploy at 14:00', owner: 'ops' },
      ],
      extra: null,
    });
    const kinds = Object.fromEntries(Object.entries(inferred.properties!).map(([k, s]) => [k, kindOf(s)]));
    assert.deepEqual(kinds, { summary: 'string', tags: 'strings', findings: 'list', extra: 'json' });
    assert.deepEqual(Object.keys(inferred.properties!.findings.items!.properties!), [
      'title',
      'severity',
      'owner',
    ]);
    assert.equal(kindOf(inferSchema([1, 'mixed'])), 'json', 'a list the form cannot draw stays JSON');
  });

  it('a draft edited as text under its one property; a list of strings stays one change', () => {
    const DRAFT = serverSchema(z.object({ draft: z.string().min(1) }));
    assert.deepEqual(editableValue(DRAFT, 'Hello'), { draft: 'Hello' });
    assert.deepEqual(diffValues({ tags: ['a', 'b'] }, { tags: ['a', 'c'] }), [
      { path: 'tags', before: ['a', 'b'], after: ['a', 'c'] },
    ]);
  });
});
