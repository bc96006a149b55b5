import type { z } from 'zod';

/**
 * `@parley/tools-sdk`: tools that need code, written as JavaScript modules and listed in Parley's
 * tools file (`modules:`). A module exports its tools (`export default [...]`, `export const tools`),
 * or a function of the host that returns them (to open a database in Parley's data folder):
 *
 *     const { defineTool } = require('@parley/tools-sdk');
 *     const { z } = require('zod');
 *     module.exports = [defineTool({
 *       name: 'shout', description: 'Upper-cases a text', idempotent: true,
 *       args: z.object({ text: z.string() }),
 *       execute: ({ text }) => ({ result: text.toUpperCase() }),
 *     })];
 */

/** What a call knows about itself. */
export interface ToolCallContext {
  runId: string;
  callId: string;
  /** `runId:callId`, the same on every attempt of the call: apply each key at most once. */
  idempotencyKey: string;
}

export interface ToolAnswer {
  result: unknown;
  /** True when the key had already been applied: the earlier result is returned, nothing was done again. */
  reconciled?: boolean;
}

export interface ToolSpecification<S extends z.ZodType> {
  /** `[a-z][a-z0-9_-]*`: the name workflows list and policies match. */
  name: string;
  description: string;
  args: S;
  /** A crashed call is run again with the same key (true), or put to a human (false, the default). */
  idempotent?: boolean;
  execute(args: z.output<S>, ctx: ToolCallContext): Promise<ToolAnswer> | ToolAnswer;
}

export const PARLEY_TOOL = Symbol.for('parley.tool');

export type DefinedTool<S extends z.ZodType = z.ZodType> = ToolSpecification<S> & { [PARLEY_TOOL]: true };

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** A tool for Parley: its name, what it does, its arguments as a zod schema, and the function. */
export function defineTool<S extends z.ZodType>(spec: ToolSpecification<S>): DefinedTool<S> {
  if (!NAME.test(spec.name ?? ''))
    throw new TypeError(`defineTool: name "${spec.name}" is not [a-z][a-z0-9_-]*`);
  if (typeof spec.description !== 'string' || !spec.description)
    throw new TypeError(`defineTool(${spec.name}): description is required`);
  if (!spec.args || typeof (spec.args as { safeParse?: unknown }).safeParse !== 'function')
    throw new TypeError(`defineTool(${spec.name}): args must be a zod schema`);
  if (typeof spec.execute !== 'function')
    throw new TypeError(`defineTool(${spec.name}): execute must be a function`);
  return { ...spec, [PARLEY_TOOL]: true };
}

export function isDefinedTool(value: unknown): value is DefinedTool {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PARLEY_TOOL] === true
  );
}

/**
 * A coded failure (`TICKETS.NOT_FOUND`), recorded as the call's error. `transient`: the service
 * refused or timed out and the call may be tried again with the same key.
 */
export class ToolFailure extends Error {
  readonly transient: boolean;
  readonly retryAfterMs?: number;
  constructor(
    readonly code: string,
    message: string,
    options: { transient?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'ToolFailure';
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** What a module's tool factory is given. */
export interface ToolHost {
  /** Parley's data folder (writable). */
  dataDir: string;
  /** Called when the server stops: close what the tools opened. */
  onClose(close: () => void | Promise<void>): void;
}

export type ToolModuleExport =
  | DefinedTool
  | DefinedTool[]
  | ((host: ToolHost) => DefinedTool | DefinedTool[] | Promise<DefinedTool | DefinedTool[]>);
