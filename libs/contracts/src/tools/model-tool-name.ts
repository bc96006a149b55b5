import { createHash } from 'node:crypto';

/** What OpenAI-compatible providers accept as a function name. */
export const MODEL_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The name a model is given for a tool, and answers with: the tool's own name when a provider accepts
 * it (`process_refund`), else `<server>__<tool>` with every other character made `_`, shortened with a
 * hash of the full name past 64 characters (`fs.read_text_file` → `fs__read_text_file`). Workflows,
 * policies and the log always use the tool's own name; only the model gateway speaks this one.
 */
export function modelToolName(name: string): string {
  if (MODEL_TOOL_NAME.test(name)) return name;
  const dot = name.indexOf('.');
  const spelled = (dot < 0 ? name : `${name.slice(0, dot)}__${name.slice(dot + 1)}`).replace(
    /[^a-zA-Z0-9_-]/g,
    '_',
  );
  if (spelled.length <= 64 && spelled.length > 0) return spelled;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${spelled.slice(0, 55)}_${hash}`;
}
