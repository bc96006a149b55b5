import type { RunEvent } from '@parley/contracts';
import type { RunEventObserver } from '../run-observer';
import { secondsBetween, type RunTrail } from '../run-trail';
import type { ParleyMetrics } from './parley-metrics';

/**
 * Counters and histograms from the facts of the runs this instance owns: durations are the time
 * between the facts' own `at` (a model call from `model-call.started` to `.completed`), so a call
 * asked before a crash and answered after the restart is measured whole.
 */
export class RunMetrics implements RunEventObserver {
  constructor(private readonly metrics: ParleyMetrics) {}

  observe(event: RunEvent, trail: RunTrail): void {
    const m = this.metrics;
    switch (event.type) {
      case 'run.started':
        m.runsStarted.inc({ workflow: event.data.workflow.name });
        return;
      case 'run.completed':
        m.runsFinished.inc({ workflow: trail.workflow, status: 'completed' });
        return;
      case 'run.failed':
        m.runsFinished.inc({ workflow: trail.workflow, status: 'failed' });
        return;
      case 'run.cancelled':
        m.runsFinished.inc({ workflow: trail.workflow, status: 'cancelled' });
        return;
      case 'model-call.completed': {
        const call = trail.modelCalls.get(event.data.callId);
        if (call)
          m.modelCallDuration.observe(
            { workflow: trail.workflow, agent: call.agent, model: call.model },
            secondsBetween(call.at, event.at),
          );
        if (event.data.usage) {
          m.modelTokens.inc({ direction: 'input' }, event.data.usage.promptTokens);
          m.modelTokens.inc({ direction: 'output' }, event.data.usage.completionTokens);
        }
        return;
      }
      case 'tool-call.completed':
      case 'tool-call.failed': {
        const call = trail.toolCalls.get(event.data.callId);
        if (call?.startedAt)
          m.toolCallDuration.observe(
            { tool: call.tool, outcome: event.type === 'tool-call.completed' ? 'completed' : 'failed' },
            secondsBetween(call.startedAt, event.at),
          );
        return;
      }
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed': {
        const request = trail.requests.get(event.data.requestId);
        if (!request) return;
        const outcome =
          event.type === 'human-request.resolved'
            ? event.data.outcome
            : event.type === 'human-request.expired'
              ? 'expired'
              : 'closed';
        m.humanWait.observe({ kind: request.kind, outcome }, secondsBetween(request.at, event.at));
        return;
      }
      default:
        return;
    }
  }
}
