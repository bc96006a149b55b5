import { ValidationError, inputJsonSchema, parseOrThrow } from '@parley/contracts';
import { z } from 'zod';
import { patternOf } from '../patterns/registry';
import type { HumanRequestState, RunState } from '../run-state';
import type { ToolRegistry } from '../tools/tool-registry';

/**
 * An edited payload must be something the run can use, checked before the edit is recorded: tool
 * arguments go through the tool's own zod schema; a plan, a route (the pattern's `editSchema`), a
 * draft or an output through theirs. A coded 400 names the field. (What the edited arguments then
 * require, a stricter rule's request, is the gate invariant's business: hitl/tool-gates.ts.)
 */
export function validateEdit(
  state: RunState,
  request: HumanRequestState,
  payload: unknown,
  tools: ToolRegistry,
): void {
  const subject = request.subject;
  if (subject.type === 'tool-call') {
    const call = state.toolCalls.find((t) => t.callId === subject.callId);
    if (!call || !tools.spec(call.tool))
      throw new ValidationError(
        'REQUEST.EDIT_NOT_SUPPORTED',
        'this request has no editable tool call',
        'payload',
      );
    const shape = parseOrThrow(
      z.object({ args: z.record(z.string(), z.unknown()) }),
      payload,
      'REQUEST.INVALID_PAYLOAD',
      'payload',
    );
    tools.validate(call.tool, shape.args, 'payload.args');
    return;
  }
  const schema =
    patternOf(state.workflow).editSchema?.(subject, state.workflow) ??
    z.object({ [subject.type === 'draft' ? 'draft' : 'output']: z.string().min(1) });
  parseOrThrow(schema, payload, 'REQUEST.INVALID_PAYLOAD', 'payload');
}

/**
 * The JSON Schema an edit of `request` must satisfy (what `validateEdit` checks), for a client to
 * generate its edit form from: `{args: <the tool's parameters>}` for a tool call, the pattern's edit
 * schema or `{draft | output: string}` otherwise. Undefined when the request takes no edit or the
 * tool is unknown.
 */
export function editJsonSchema(
  state: RunState,
  request: HumanRequestState,
  tools: ToolRegistry,
): Record<string, unknown> | undefined {
  if (!request.decisions.includes('edit')) return undefined;
  const subject = request.subject;
  if (subject.type === 'tool-call') {
    const call = state.toolCalls.find((t) => t.callId === subject.callId);
    const spec = call && tools.spec(call.tool);
    if (!spec) return undefined;
    return { type: 'object', properties: { args: spec.parameters }, required: ['args'] };
  }
  const schema =
    patternOf(state.workflow).editSchema?.(subject, state.workflow) ??
    z.object({ [subject.type === 'draft' ? 'draft' : 'output']: z.string().min(1) });
  try {
    return inputJsonSchema(schema);
  } catch {
    return undefined;
  }
}
