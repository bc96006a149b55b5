import { ToolFailure } from '@parley/tools-sdk';
import { z } from 'zod';
import { ValidationError, inputJsonSchema, modelToolName, toValidationError } from '@parley/contracts';
import type { ParsedArgs, ToolSpec } from '../steps';

export interface ToolContext {
  runId: string;
  callId: string;
  /** `runId:callId`. A tool with effects applies each key at most once. */
  idempotencyKey: string;
}

export interface ToolOutcome {
  result: unknown;
  /** True when the key had already been applied: the earlier result is returned, nothing is done again. */
  reconciled?: boolean;
}

export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  args: S;
  execute(args: z.output<S>, ctx: ToolContext): Promise<ToolOutcome> | ToolOutcome;
  /**
   * The arguments' JSON Schema as the model is shown it, when the tool has its own (an MCP or HTTP
   * tool's `inputSchema`); default: derived from `args`.
   */
  parameters?: Record<string, unknown>;
  /**
   * Whether running the call again with the same idempotency key has the effect of running it once
   * (it applies each key once, or it changes nothing). A started call of such a tool with no result
   * (a crash) is run again; any other is put to a human (tools/reconcile.ts).
   */
  idempotent?: boolean;
}

/**
 * A tool's coded failure: the SDK's `ToolFailure`, one class for module tools and built-in ones.
 * `transient` (the service behind it refused, timed out, answered 429 or 5xx): the engine runs the
 * call again with the same idempotency key, within the workflow's `retries`, after `retryAfterMs`
 * when the service named one.
 */
export const ToolError = ToolFailure;
export type ToolError = ToolFailure;

/** Tools are TypeScript functions registered by name with a zod schema for their arguments. */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();
  /** Specs are derived once: every model step of a tool-using agent asks for them. */
  private readonly specs = new Map<string, ToolSpec>();

  register<S extends z.ZodType>(tool: ToolDefinition<S>): this {
    if (this.tools.has(tool.name)) throw new Error(`tool ${tool.name} is registered twice`);
    const spoken = modelToolName(tool.name);
    const clash = [...this.tools.keys()].find((name) => modelToolName(name) === spoken);
    if (clash) throw new Error(`tools ${clash} and ${tool.name} have the same model name "${spoken}"`);
    this.tools.set(tool.name, tool as unknown as ToolDefinition);
    return this;
  }

  /** Forget a tool (its server listed its tools again without it). Runs that name it refuse its calls. */
  unregister(name: string): void {
    this.tools.delete(name);
    this.specs.delete(name);
  }

  /** Whether a crashed call of the tool may simply run again (see ToolDefinition.idempotent). */
  isIdempotent(name: string): boolean {
    return this.tools.get(name)?.idempotent === true;
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  spec(name: string): ToolSpec | undefined {
    const known = this.specs.get(name);
    if (known) return known;
    const tool = this.tools.get(name);
    if (!tool) return undefined;
    const { $schema: _ignored, ...parameters } = tool.parameters ?? inputJsonSchema(tool.args);
    const spec = { name: tool.name, description: tool.description, parameters };
    this.specs.set(name, spec);
    return spec;
  }

  /** Check arguments against the tool's schema; a ValidationError names the bad field under `prefix`. */
  validate(name: string, args: unknown, prefix: string): void {
    const tool = this.tools.get(name);
    if (!tool) throw new ValidationError('TOOL.UNKNOWN', `no tool named "${name}"`, prefix);
    const parsed = tool.args.safeParse(args);
    if (!parsed.success) throw toValidationError(parsed.error, 'TOOL.INVALID_ARGS', prefix);
  }

  /** The arguments as the tool receives them (unknown members stripped, defaults applied), or why not. */
  parse(name: string, args: unknown): ParsedArgs {
    const tool = this.tools.get(name);
    if (!tool) return { ok: false, code: 'TOOL.UNKNOWN', message: `no tool named "${name}"` };
    const parsed = tool.args.safeParse(args);
    if (parsed.success) return { ok: true, args: parsed.data };
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      code: 'TOOL.INVALID_ARGS',
      message: `${name}: ${issue.path.join('.') || 'arguments'}: ${issue.message}`,
    };
  }

  async execute(name: string, args: unknown, ctx: ToolContext): Promise<ToolOutcome> {
    const tool = this.tools.get(name);
    if (!tool) throw new ToolError('TOOL.UNKNOWN', `no tool named "${name}"`);
    const parsed = tool.args.safeParse(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ToolError(
        'TOOL.INVALID_ARGS',
        `${name}: ${issue.path.join('.') || 'arguments'}: ${issue.message}`,
      );
    }
    return tool.execute(parsed.data, ctx);
  }
}
