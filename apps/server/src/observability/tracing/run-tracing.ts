import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { RunEvent, RunTraceContext } from '@parley/contracts';
import type { TracingConfig } from '../../config/config';
import type { RunEventObserver } from '../run-observer';
import type { RunTrail, TurnTrail } from '../run-trail';
import { PinnedIdGenerator, spanIdOf } from './pinned-ids';
import { setToolTraceSource } from './tool-trace-context';

interface SpanRecord {
  name: string;
  spanId: string;
  parentSpanId?: string;
  start: string;
  end: string;
  attributes: Attributes;
  error?: string;
  kind?: SpanKind;
}

/**
 * OpenTelemetry traces of runs, derived from the log: `invoke_workflow` (the run) → `invoke_agent`
 * (a turn) → `chat` (a model call) and `execute_tool` (a tool call), and `parley.human_request`
 * from a request's opening to its resolution. A span is exported when the fact that closes it is
 * appended, with the times of the facts that opened and closed it and ids derived from them
 * (`spanIdOf`), under the trace context `run.started` recorded: a run that waits two days, or whose
 * server was killed and restarted, is one trace with the right parents. The official SDK exports
 * them over OTLP/HTTP (the standard OTEL_* variables: batching, headers, timeouts).
 */
export class RunTracing implements RunEventObserver {
  private readonly ids = new PinnedIdGenerator();
  private readonly provider: NodeTracerProvider;
  /** The trace context of the runs seen here that have not ended: what a tool call sends on. */
  private readonly traces = new Map<string, RunTraceContext>();
  readonly tracer: Tracer;

  constructor(private readonly config: TracingConfig) {
    const exporter =
      config.protocol === 'http/json'
        ? new OtlpJsonExporter({ url: config.url })
        : new OtlpProtoExporter({ url: config.url });
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      idGenerator: this.ids,
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    // the global provider, W3C trace-context propagation and the async context (HTTP spans, log lines)
    this.provider.register();
    this.tracer = this.provider.getTracer('parley');
    setToolTraceSource((runId, callId) => {
      const run = this.traces.get(runId);
      return run && `00-${run.traceId}-${spanIdOf(runId, `tool:${callId}`)}-01`;
    });
  }

  /** The trace context a new run records: under the active span (an HTTP request's), else a new trace. */
  newRunContext(): RunTraceContext {
    const active = trace.getActiveSpan()?.spanContext();
    const spanId = randomBytes(8).toString('hex');
    if (active && trace.isSpanContextValid(active))
      return { traceId: active.traceId, spanId, parentSpanId: active.spanId };
    return { traceId: randomBytes(16).toString('hex'), spanId };
  }

  observe(event: RunEvent, trail: RunTrail): void {
    const run = trail.trace ?? (event.type === 'run.started' ? event.data.trace : undefined);
    if (!run) return; // started with tracing off: no trace to add to
    if (event.type === 'run.completed' || event.type === 'run.cancelled') this.traces.delete(event.runId);
    else this.traces.set(event.runId, run);
    for (const span of this.closedBy(event, trail, run)) this.emit(run, span);
  }

  /** The spans `event` closes. */
  private closedBy(event: RunEvent, trail: RunTrail, run: RunTraceContext): SpanRecord[] {
    const runId = event.runId;
    const turnSpan = (turn: TurnTrail | undefined) =>
      turn ? spanIdOf(runId, `turn:${turn.openedBy}`) : run.spanId;
    const turnRecord = (turn: TurnTrail, error?: string): SpanRecord => ({
      name: `invoke_agent ${turn.agent}`,
      spanId: turnSpan(turn),
      parentSpanId: run.spanId,
      start: turn.at,
      end: event.at,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': turn.agent,
        'parley.turn.purpose': turn.purpose,
        'parley.turn.model_calls': turn.calls,
        'gen_ai.usage.input_tokens': turn.inputTokens,
        'gen_ai.usage.output_tokens': turn.outputTokens,
        'parley.run.id': runId,
      },
      error,
    });
    switch (event.type) {
      case 'model-call.completed':
      case 'model-call.failed': {
        const call = trail.modelCalls.get(event.data.callId);
        if (!call) return [];
        const usage = event.type === 'model-call.completed' ? event.data.usage : undefined;
        const error =
          event.type === 'model-call.failed' ? `${event.data.code}: ${event.data.message}` : undefined;
        const spans: SpanRecord[] = [
          {
            name: `chat ${call.model}`,
            spanId: spanIdOf(runId, `chat:${event.data.callId}`),
            parentSpanId: turnSpan(call.turn),
            start: call.at,
            end: event.at,
            kind: SpanKind.CLIENT,
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': call.model,
              'gen_ai.agent.name': call.agent,
              'parley.model_call.id': event.data.callId,
              'parley.model_call.purpose': call.purpose,
              'parley.model_call.attempts': event.data.attempts,
              ...(usage
                ? {
                    'gen_ai.usage.input_tokens': usage.promptTokens,
                    'gen_ai.usage.output_tokens': usage.completionTokens,
                  }
                : {}),
              ...(event.type === 'model-call.completed'
                ? { 'parley.model_call.tool_calls': event.data.toolCalls.length }
                : {}),
            },
            error,
          },
        ];
        const turn = call.turn;
        if (turn && (event.type === 'model-call.failed' || event.data.toolCalls.length === 0)) {
          // the turn's figures include this call's tokens
          const closing = { ...turn };
          closing.inputTokens += usage?.promptTokens ?? 0;
          closing.outputTokens += usage?.completionTokens ?? 0;
          spans.push(turnRecord(closing, error));
        }
        return spans;
      }
      case 'tool-call.completed':
      case 'tool-call.failed': {
        const call = trail.toolCalls.get(event.data.callId);
        if (!call?.startedAt) return [];
        const content = this.config.captureContent
          ? {
              'gen_ai.tool.call.arguments': JSON.stringify(call.args),
              ...(event.type === 'tool-call.completed'
                ? { 'gen_ai.tool.call.result': JSON.stringify(event.data.result) }
                : {}),
            }
          : {};
        return [
          {
            name: `execute_tool ${call.tool}`,
            spanId: spanIdOf(runId, `tool:${event.data.callId}`),
            parentSpanId: turnSpan(call.turn),
            start: call.startedAt,
            end: event.at,
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': call.tool,
              'gen_ai.tool.call.id': event.data.callId,
              'gen_ai.agent.name': call.agent,
              ...(event.type === 'tool-call.completed'
                ? { 'parley.tool_call.reconciled': event.data.reconciled }
                : {}),
              ...content,
            },
            error:
              event.type === 'tool-call.failed' ? `${event.data.code}: ${event.data.message}` : undefined,
          },
        ];
      }
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed': {
        const request = trail.requests.get(event.data.requestId);
        if (!request) return [];
        const outcome =
          event.type === 'human-request.resolved'
            ? event.data.outcome
            : event.type === 'human-request.expired'
              ? 'expired'
              : 'closed';
        const deciders = event.type === 'human-request.resolved' ? event.data.deciders : [];
        return [
          {
            name: `parley.human_request ${request.kind}`,
            spanId: spanIdOf(runId, `request:${event.data.requestId}`),
            parentSpanId: turnSpan(request.turn),
            start: request.at,
            end: event.at,
            attributes: {
              'parley.request.id': event.data.requestId,
              'parley.request.kind': request.kind,
              'parley.request.roles': request.roles,
              'parley.request.tier': request.tier,
              'parley.request.outcome': outcome,
              'parley.request.payload_hash': request.payloadHash,
              'parley.request.deciders': deciders.map((d) => d.id),
              'parley.request.decider_roles': deciders.map((d) => d.role),
              ...(event.type === 'human-request.expired'
                ? { 'parley.request.expiry_action': event.data.action }
                : {}),
            },
          },
        ];
      }
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        const status = event.type.slice('run.'.length);
        const error = event.type === 'run.failed' ? `${event.data.code}: ${event.data.message}` : undefined;
        return [
          // turns still open when the run ends (a cancel) end with it
          ...[...trail.turns.values()].map((turn) => turnRecord(turn, error)),
          {
            name: `invoke_workflow ${trail.workflow}`,
            spanId: run.spanId,
            parentSpanId: run.parentSpanId,
            start: trail.startedAt ?? event.at,
            end: event.at,
            attributes: {
              'gen_ai.operation.name': 'invoke_workflow',
              'parley.workflow': trail.workflow,
              'parley.run.id': runId,
              'parley.run.status': status,
            },
            error,
          },
        ];
      }
      default:
        return [];
    }
  }

  private emit(run: RunTraceContext, span: SpanRecord): void {
    const parent = span.parentSpanId
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: run.traceId,
          spanId: span.parentSpanId,
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    this.ids.pin(run.traceId, span.spanId);
    const otel = this.tracer.startSpan(
      span.name,
      { startTime: new Date(span.start), attributes: span.attributes, kind: span.kind ?? SpanKind.INTERNAL },
      parent,
    );
    if (span.error) otel.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
    otel.end(new Date(span.end));
  }

  async close(): Promise<void> {
    setToolTraceSource(undefined);
    await this.provider.forceFlush().catch(() => undefined);
    await this.provider.shutdown().catch(() => undefined);
  }
}
