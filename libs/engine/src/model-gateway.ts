import type { ModelCallPlan } from './steps';

export interface ModelResult {
  content: string;
  toolCalls: Array<{ id: string; name: string; arguments: unknown }>;
  structured?: unknown;
  attempts: number;
  usage?: { promptTokens: number; completionTokens: number };
}

export interface ModelCallContext {
  runId: string;
  /** Live tokens while the agent speaks (published, never stored). */
  onToken?: (delta: string) => void;
}

/** The engine's only way to reach a model. */
export interface ModelGateway {
  complete(plan: ModelCallPlan, ctx: ModelCallContext): Promise<ModelResult>;
}

/** A model call that did not give a usable answer after its bounded retries. */
export class ModelCallError extends Error {
  constructor(
    readonly code: 'MODEL_UNAVAILABLE' | 'MODEL_OUTPUT_INVALID' | 'MODEL_MISCONFIGURED',
    message: string,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'ModelCallError';
  }
}
