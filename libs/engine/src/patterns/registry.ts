import type { Workflow } from '@parley/contracts';
import { concurrent } from './concurrent';
import { groupChat } from './group-chat';
import { handoff } from './handoff';
import { magentic } from './magentic';
import { makerChecker } from './maker-checker';
import type { PatternModule, WorkflowOf } from './pattern-module';
import { sequential } from './sequential';
import { singleAgent } from './single-agent';

/**
 * Every pattern's module. The mapped type makes the compiler find the one place a new pattern must
 * be added: a pattern of the workflow schema without a module here is a type error.
 */
export const PATTERNS: { [P in Workflow['pattern']]: PatternModule<WorkflowOf<P>> } = {
  'single-agent': singleAgent,
  sequential,
  concurrent,
  'group-chat': groupChat,
  handoff,
  magentic,
  'maker-checker': makerChecker,
};

/** The module of a workflow's pattern, typed for that workflow. */
export function patternOf<W extends Workflow>(wf: W): PatternModule<W> {
  return PATTERNS[wf.pattern] as unknown as PatternModule<W>;
}
