/** Request counters and pending injected faults (mutable, owned by one server). */
import type { Faults } from './request-schema';

export interface OfflineStats {
  requests: number;
  completions: number;
  byModel: Record<string, number>;
  toolCallsEmitted: number;
}

export class StatsAndFaults {
  private s: OfflineStats = emptyStats();
  private pending = { invalidStructuredOutputs: 0, httpErrors: 0 };

  snapshot(): OfflineStats {
    return { ...this.s, byModel: { ...this.s.byModel } };
  }

  reset(): void {
    this.s = emptyStats();
  }

  countRequest(): void {
    this.s.requests++;
  }

  countCompletion(model: string, toolCalls: number): void {
    this.s.completions++;
    this.s.byModel[model] = (this.s.byModel[model] ?? 0) + 1;
    this.s.toolCallsEmitted += toolCalls;
  }

  /** Sets (replaces) the pending counts given; omitted kinds are left unchanged. */
  inject(f: Faults): void {
    if (f.invalidStructuredOutputs !== undefined)
      this.pending.invalidStructuredOutputs = f.invalidStructuredOutputs;
    if (f.httpErrors !== undefined) this.pending.httpErrors = f.httpErrors;
  }

  faults(): { invalidStructuredOutputs: number; httpErrors: number } {
    return { ...this.pending };
  }

  takeHttpError(): boolean {
    if (this.pending.httpErrors <= 0) return false;
    this.pending.httpErrors--;
    return true;
  }

  takeInvalidStructured(): boolean {
    if (this.pending.invalidStructuredOutputs <= 0) return false;
    this.pending.invalidStructuredOutputs--;
    return true;
  }
}

const emptyStats = (): OfflineStats => ({ requests: 0, completions: 0, byModel: {}, toolCallsEmitted: 0 });
