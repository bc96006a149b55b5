import { z } from 'zod';
import { DurationSchema } from './duration';

const Name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'expected a lower-case name (letters, digits, "-" or "_")');
const Role = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'expected a role name');

/**
 * A tool as a workflow names it: a built-in or module tool (`process_refund`), a tool of a server or
 * HTTP group from the tools file (`<server>.<tool>`, the tool's own name as its server spells it).
 */
export const ToolRefSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}(\.[A-Za-z0-9_][A-Za-z0-9_./-]{0,127})?$/,
    'expected a tool name: `name` or `<server>.<tool>`',
  );
/** In an agent's list, `<server>.*` also names every tool of a server (as listed when a run starts). */
export const AgentToolRefSchema = z.union([
  ToolRefSchema,
  z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,62}\.\*$/, 'expected a tool name: `name`, `<server>.<tool>` or `<server>.*`'),
]);

export const ProviderSchema = z.strictObject({
  baseURL: z.url().optional(),
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name')
    .optional(),
});
export type Provider = z.infer<typeof ProviderSchema>;

export const AgentSchema = z.strictObject({
  name: Name,
  model: z.string().min(1).default('offline'),
  system: z.string().min(1),
  tools: z.array(AgentToolRefSchema).default([]),
  provider: ProviderSchema.optional(),
  temperature: z.number().min(0).max(2).optional(),
});
export type AgentDefinition = z.infer<typeof AgentSchema>;

/** One tier of an escalation chain: who is asked next, and how long they have (absent: no deadline). */
export const EscalationTierSchema = z.strictObject({
  roles: z.array(Role).min(1),
  after: DurationSchema.optional(),
});
export type EscalationTier = z.infer<typeof EscalationTierSchema>;

/**
 * What happens when nobody answers in time. `then: escalate` hands the request to `escalateTo` (one
 * tier, no deadline) or walks `chain`: each tier with its own roles and deadline (approver 15 min ->
 * manager 1 h -> ...); when the last tier's deadline passes, `finally` applies: `reject` by default,
 * never a silent approve.
 */
export const TimeoutSchema = z
  .strictObject({
    after: DurationSchema,
    then: z.enum(['reject', 'approve', 'escalate', 'continue']),
    escalateTo: Role.optional(),
    chain: z.array(EscalationTierSchema).min(1).max(10).optional(),
    finally: z.enum(['reject', 'continue']).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.chain && t.then !== 'escalate')
      ctx.addIssue({ code: 'custom', path: ['chain'], message: 'a chain needs "then: escalate"' });
    if (t.chain && t.escalateTo)
      ctx.addIssue({
        code: 'custom',
        path: ['escalateTo'],
        message: 'give either escalateTo (one tier) or chain (several), not both',
      });
    if (t.finally && !t.chain)
      ctx.addIssue({ code: 'custom', path: ['finally'], message: '"finally" applies to a chain only' });
    t.chain?.forEach((tier, i) => {
      if (tier.after === undefined && i < t.chain!.length - 1)
        ctx.addIssue({
          code: 'custom',
          path: ['chain', i, 'after'],
          message: 'only the last tier may have no deadline',
        });
    });
  });
export type TimeoutPolicy = z.infer<typeof TimeoutSchema>;

/** Who answers a human request, and what happens when nobody does. */
export const GateSchema = z.strictObject({
  roles: z.array(Role).min(1).default(['approver']),
  quorum: z.number().int().min(1).max(10).default(1),
  fourEyes: z.boolean().default(false),
  timeout: TimeoutSchema.optional(),
});
export type Gate = z.infer<typeof GateSchema>;

export const ApprovalRuleSchema = GateSchema.extend({
  tool: ToolRefSchema,
  /** An expression over the call's arguments, e.g. `amount > 100`. Absent: always. */
  when: z.string().min(1).optional(),
  /** `confirmation`: the requester confirms what the agent states it will do. */
  kind: z.enum(['approval', 'confirmation']).default('approval'),
});
export type ApprovalRule = z.infer<typeof ApprovalRuleSchema>;

export const EscalationRuleSchema = z.strictObject({
  /** An expression over a tool call's arguments (`tool` set) ... */
  tool: ToolRefSchema.optional(),
  when: z.string().min(1).optional(),
  /** ... or a case-insensitive regular expression over the human's input. */
  inputMatches: z.string().min(1).optional(),
  reason: z.string().min(1),
  suggestedAction: z.string().min(1).default('A human takes over the case.'),
  roles: z.array(Role).min(1).default(['approver']),
});
export type EscalationRule = z.infer<typeof EscalationRuleSchema>;

export const PoliciesSchema = z.strictObject({
  approvals: z.array(ApprovalRuleSchema).default([]),
  escalations: z.array(EscalationRuleSchema).default([]),
  /**
   * Tools that run without the approval their origin gets by default (every tool of an untrusted MCP
   * server, a trusted server's destructive ones): `<server>.<tool>` or `<server>.*`. The workflow's
   * own approval and escalation rules still apply to them.
   */
  ungated: z.array(AgentToolRefSchema).optional(),
});
export type Policies = z.infer<typeof PoliciesSchema>;

/**
 * Who may take each action on a run, as role names; `requester` is whoever started the run (or
 * forked it). Absent: the safe defaults (`DEFAULT_PERMISSIONS`).
 */
export const PermissionsSchema = z.strictObject({
  cancel: z.array(Role).min(1).optional(),
  fork: z.array(Role).min(1).optional(),
  /** Re-route a handoff. Default: the routing review's roles, else `participant`. */
  override: z.array(Role).min(1).optional(),
  retry: z.array(Role).min(1).optional(),
});
export type Permissions = z.infer<typeof PermissionsSchema>;
export type RunAction = keyof Permissions;
export const DEFAULT_PERMISSIONS: Record<Exclude<RunAction, 'override'>, string[]> = {
  cancel: ['requester', 'approver'],
  fork: ['approver'],
  retry: ['requester', 'approver'],
};

/**
 * Failures a retry continues from: a model call that gave no answer (after its own bounded
 * retries). The other failures are decisions or limits (a human rejected an escalation, too many
 * steps, revisions or hand-offs): retrying them would either fail again at once or walk around the
 * human who decided, so they are refused.
 */
export const RETRIABLE_FAILURES: readonly string[] = ['MODEL_CALL_FAILED'];

/**
 * Transient model and tool errors (connection refused, 429, 5xx, timeouts) are retried with
 * exponential backoff and full jitter: at most `attempts` tries per call, the n-th retry after a
 * random delay in [0, min(maxBackoff, backoff * 2^(n-1))].
 */
export const RetryPolicySchema = z.strictObject({
  attempts: z.number().int().min(1).max(10).default(3),
  backoff: DurationSchema.default('500ms'),
  maxBackoff: DurationSchema.default('30s'),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

const common = {
  name: Name,
  description: z.string().default(''),
  provider: ProviderSchema.optional(),
  agents: z.array(AgentSchema).min(1),
  policies: PoliciesSchema.default({ approvals: [], escalations: [] }),
  permissions: PermissionsSchema.optional(),
  retries: RetryPolicySchema.optional(),
};

export const SingleAgentSchema = z.strictObject({
  ...common,
  pattern: z.literal('single-agent'),
  agent: Name,
  maxSteps: z.number().int().min(1).max(50).default(8),
});

export const SequentialSchema = z.strictObject({
  ...common,
  pattern: z.literal('sequential'),
  stages: z.array(z.strictObject({ agent: Name, review: GateSchema.optional() })).min(1),
  maxRevisions: z.number().int().min(0).max(10).default(3),
});

export const ConcurrentSchema = z.strictObject({
  ...common,
  pattern: z.literal('concurrent'),
  workers: z.array(Name).min(2),
  aggregator: Name,
  validation: GateSchema.optional(),
  maxRevisions: z.number().int().min(0).max(10).default(2),
});

export const GroupChatSchema = z.strictObject({
  ...common,
  pattern: z.literal('group-chat'),
  participants: z.array(Name).min(2),
  selection: z.enum(['round-robin', 'manager']).default('round-robin'),
  manager: Name.optional(),
  maxTurns: z.number().int().min(1).max(200).default(8),
  terminationWord: z.string().min(1).optional(),
  /** A seat for a human: after the opening round the floor is given to a human, with a deadline. */
  humanSeat: z
    .strictObject({
      roles: z.array(Role).min(1).default(['participant']),
      afterTurns: z.number().int().min(1).optional(),
      deadline: DurationSchema.default('5m'),
    })
    .optional(),
});

export const HandoffSchema = z.strictObject({
  ...common,
  pattern: z.literal('handoff'),
  triage: Name,
  specialists: z.array(Name).min(1),
  maxHandoffs: z.number().int().min(1).max(20).default(5),
  /** A human checks each routing decision of the triage agent: keep it, or re-route. */
  routeReview: GateSchema.optional(),
});

export const MagenticSchema = z.strictObject({
  ...common,
  pattern: z.literal('magentic'),
  manager: Name,
  specialists: z.array(Name).min(1),
  planApproval: GateSchema.optional(),
  findingsReview: GateSchema.optional(),
  maxRounds: z.number().int().min(1).max(50).default(10),
  maxStalls: z.number().int().min(1).max(10).default(2),
});

export const MakerCheckerSchema = z.strictObject({
  ...common,
  pattern: z.literal('maker-checker'),
  maker: Name,
  /** An agent's name, or `human` with the gate that says who checks. */
  checker: z.union([Name, z.strictObject({ human: GateSchema })]),
  maxRounds: z.number().int().min(1).max(20).default(3),
});

export const WorkflowSchema = z.discriminatedUnion('pattern', [
  SingleAgentSchema,
  SequentialSchema,
  ConcurrentSchema,
  GroupChatSchema,
  HandoffSchema,
  MagenticSchema,
  MakerCheckerSchema,
]);
export type Workflow = z.infer<typeof WorkflowSchema>;
export type Pattern = Workflow['pattern'];
