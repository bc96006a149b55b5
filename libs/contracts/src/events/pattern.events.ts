import { z } from 'zod';

export const HandoffPerformed = z.object({ from: z.string(), to: z.string(), reason: z.string() });

export const EscalationRaised = z.object({
  reason: z.string().min(1),
  context: z.string(),
  suggested_action: z.string(),
  source: z.enum(['agent', 'policy']),
  rule: z.string().optional(),
});

export const PlanStep = z.object({ agent: z.string().min(1), task: z.string().min(1) });
export const PlanRecorded = z.object({
  revision: z.number().int().min(0),
  facts: z.string(),
  steps: z.array(PlanStep).min(1),
  /** Who wrote this revision: the manager, or a human editing it. */
  source: z.enum(['manager', 'human']),
});

export const LedgerUpdated = z.object({
  is_request_satisfied: z.boolean(),
  is_progress_being_made: z.boolean(),
  is_in_loop: z.boolean(),
  next_speaker: z.string(),
  instruction: z.string(),
  reason: z.string(),
});

export const SpeakerSelected = z.object({ speaker: z.string().min(1), reason: z.string() });
