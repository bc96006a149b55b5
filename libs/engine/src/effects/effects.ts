import type { InterruptedCalls } from '../tools/reconcile';
import type { NewEvent } from '@parley/contracts';
import type { CrashPointHook } from '../chaos/crash-points';
import { ModelCallError, type ModelGateway } from '../model-gateway';
import { SYSTEM_ACTOR, agentActor } from '../patterns/shared';
import { retryDelayMs, type RetryBounds } from '../retries/retry-policy';
import { isTransientNetworkError } from '../retries/transient';
import type { CallRetries, RunState } from '../run-state';
import type { ModelCallPlan } from '../steps';
import { ToolError, type ToolRegistry } from '../tools/tool-registry';

/**
 * An effect whose intent is recorded: the loop performs it next, within the workflow's retry
 * bounds, counting the failed attempts already recorded for a call that is being recovered.
 */
export type Begun =
  | { kind: 'models'; calls: ModelCallPlan[]; retry: RetryBounds; retries: Record<string, CallRetries> }
  | {
      kind: 'tool';
      callId: string;
      tool: string;
      idempotencyKey: string;
      args: unknown;
      retry: RetryBounds;
      retries?: CallRetries;
    };

/** What the effects need from the engine that drives them. */
export interface EffectHost {
  models: ModelGateway;
  tools: ToolRegistry;
  onToken?: (runId: string, agent: string, delta: string) => void;
  /** Whether anyone watches the run's tokens now (default: yes, whenever `onToken` is set). */
  tokensWatched?: (runId: string) => boolean;
  crashPoint?: CrashPointHook;
  log?: (line: string) => void;
  now: () => Date;
  /** The jitter of retry delays, in [0, 1). */
  random: () => number;
  isStopped(): boolean;
  /** Aborted when the engine stops: every retry delay ends at once. */
  signal: AbortSignal;
  /** Append a `*.retried` fact under the run's lock if its call is still open; false if it is not. */
  appendIfOpen(runId: string, event: NewEvent): Promise<boolean>;
  /** Told when a tool call's effect begins (tools/reconcile.ts). */
  interrupted?: InterruptedCalls;
}

/**
 * The effects themselves: a model call and a tool call, each tried again after a transient failure
 * within the workflow's retry bounds (every failed attempt that is tried again is a `*.retried` fact,
 * appended before the delay). The engine records their intent before calling them and their result
 * after; nothing here touches the log except those `*.retried` facts.
 */
export class Effects {
  constructor(private readonly host: EffectHost) {}

  /**
   * Ask the model, trying again after a transient failure (a refused or reset connection, a
   * timeout, HTTP 429 or 5xx) within the workflow's `retries`: each failed attempt that is tried
   * again is a `model-call.retried` fact, appended before the delay, so the attempts are counted
   * from the log (a restart during the delay resumes the count) and an auditor sees every one.
   * Undefined when the engine stops during a delay (the call stays `started`: recovery repeats it).
   */
  async modelResult(
    runId: string,
    begun: Extract<Begun, { kind: 'models' }>,
    call: ModelCallPlan,
  ): Promise<NewEvent | undefined> {
    const agent = call.agent.name;
    const base = { callId: call.callId, agent, purpose: call.purpose };
    let failed = begun.retries[call.callId]?.failed ?? 0;
    if (!(await this.delay(begun.retries[call.callId], begun.retry))) return undefined;
    for (;;) {
      try {
        this.host.crashPoint?.('before-model', runId);
        // tokens only for a call someone watches as it begins: an unwatched one is asked whole
        const onToken = this.host.onToken;
        const watched = onToken !== undefined && (this.host.tokensWatched?.(runId) ?? true);
        const result = await this.host.models.complete(call, {
          runId,
          onToken: watched ? (delta) => onToken(runId, agent, delta) : undefined,
        });
        this.host.crashPoint?.('after-model', runId);
        return {
          type: 'model-call.completed',
          actor: agentActor(agent),
          data: {
            ...base,
            content: result.content,
            toolCalls: result.toolCalls,
            structured: result.structured,
            attempts: failed + result.attempts,
            usage: result.usage,
          },
        };
      } catch (error) {
        const e =
          error instanceof ModelCallError ? error : new ModelCallError('MODEL_UNAVAILABLE', String(error), 1);
        const retried = await this.retryAfter(runId, begun.retry, failed + 1, e, (attempt, delayMs) => ({
          type: 'model-call.retried',
          actor: agentActor(agent),
          data: { ...base, attempt, code: e.code, message: e.message, delayMs },
        }));
        if (retried === 'stopped') return undefined;
        if (retried === 'again') {
          failed += 1;
          continue;
        }
        this.host.log?.(`run ${runId}: model call ${call.callId} (${agent}) failed: ${e.message}`);
        return {
          type: 'model-call.failed',
          actor: agentActor(agent),
          data: { ...base, code: e.code, message: e.message, attempts: failed + e.attempts },
        };
      }
    }
  }

  /** Run the tool, again after a transient failure with the same idempotency key (as `modelResult`). */
  async toolResult(runId: string, begun: Extract<Begun, { kind: 'tool' }>): Promise<NewEvent | undefined> {
    const { callId } = begun;
    let failed = begun.retries?.failed ?? 0;
    if (!(await this.delay(begun.retries, begun.retry))) return undefined;
    this.host.interrupted?.begun(begun.idempotencyKey); // from here on, the call may have acted
    for (;;) {
      try {
        this.host.crashPoint?.('before-tool', runId);
        const outcome = await this.host.tools.execute(begun.tool, begun.args, {
          runId,
          callId,
          idempotencyKey: begun.idempotencyKey,
        });
        this.host.crashPoint?.('after-tool', runId);
        return {
          type: 'tool-call.completed',
          actor: SYSTEM_ACTOR,
          data: { callId, result: outcome.result ?? null, reconciled: outcome.reconciled ?? false },
        };
      } catch (error) {
        const code = error instanceof ToolError ? error.code : 'TOOL.FAILED';
        const message = error instanceof Error ? error.message : String(error);
        const transient = error instanceof ToolError ? error.transient : isTransientNetworkError(error);
        const retryAfterMs = error instanceof ToolError ? error.retryAfterMs : undefined;
        const retried = await this.retryAfter(
          runId,
          begun.retry,
          failed + 1,
          { transient, retryAfterMs },
          (attempt, delayMs) => ({
            type: 'tool-call.retried',
            actor: SYSTEM_ACTOR,
            data: { callId, attempt, code, message, delayMs },
          }),
        );
        if (retried === 'stopped') return undefined;
        if (retried === 'again') {
          failed += 1;
          continue;
        }
        return {
          type: 'tool-call.failed',
          actor: SYSTEM_ACTOR,
          data: { callId, code, message, attempts: failed + 1 },
        };
      }
    }
  }

  /**
   * After failed attempt `attempt`: 'again' once its `*.retried` fact is appended and the delay has
   * passed; 'final' when the error is not transient, the bound is reached or the call was closed
   * meanwhile (a cancel); 'stopped' when the engine stopped during the delay.
   */
  private async retryAfter(
    runId: string,
    bounds: RetryBounds,
    attempt: number,
    error: { transient: boolean; retryAfterMs?: number },
    fact: (attempt: number, delayMs: number) => NewEvent,
  ): Promise<'again' | 'final' | 'stopped'> {
    if (!error.transient || attempt >= bounds.attempts || this.host.isStopped()) return 'final';
    const delayMs = retryDelayMs(bounds, attempt, this.host.random, error.retryAfterMs);
    // Stamped with the engine's clock: a recovered call's next attempt is due at `at + delayMs`.
    const event = { ...fact(attempt, delayMs), at: this.host.now().toISOString() };
    if (!(await this.host.appendIfOpen(runId, event))) return 'final';
    return (await this.sleep(delayMs)) ? 'again' : 'stopped';
  }

  /**
   * Wait until a recovered call's next attempt is due (a restart during its delay), never longer
   * than the policy's longest delay whatever the clocks say. False: the engine stopped.
   */
  private async delay(retries: CallRetries | undefined, bounds: RetryBounds): Promise<boolean> {
    if (!retries) return true;
    const due = Date.parse(retries.nextAttemptAt) - this.host.now().getTime();
    return this.sleep(Math.min(due, bounds.maxBackoffMs));
  }

  /** Resolves true after `ms`, or false at once when the engine stops. */
  private sleep(ms: number): Promise<boolean> {
    if (this.host.isStopped()) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    const signal = this.host.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', done);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** A result is recorded only while its call is still open (started and not answered). */
export function stillOpen(state: RunState, event: NewEvent): boolean {
  const callId = (event.data as { callId?: string }).callId;
  if (event.type.startsWith('model-call.'))
    return state.modelCalls.some((c) => c.callId === callId && c.status === 'started');
  if (event.type.startsWith('tool-call.'))
    return state.toolCalls.some((c) => c.callId === callId && c.status === 'started');
  return true;
}
